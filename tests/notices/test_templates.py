"""Templates: seeded for every kind, rendered in a sandbox, refused on save when they don't render,
versioned, one active per kind and language."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from notices import rendering
from notices.defaults import COMMON_CONTEXT, DEFAULT_TEMPLATES, SAMPLE_CONTEXTS, sample_context
from notices.models import NoticeKind, NoticeTemplate
from notices.rendering import NotPlainData, plain_data, render
from notices.selectors import template_preview
from notices.services import notice_template_create, notice_template_save, notice_template_validate

from .factories import enqueue_ack

pytestmark = pytest.mark.django_db

CA_HEADINGS = ["What Happened", "What Information Was Involved", "What We Are Doing", "What You Can Do",
               "For More Information"]  # fmt: skip


def _create(**overrides):
    values = dict(
        kind=NoticeKind.REQUEST_ACKNOWLEDGED,
        subject_template="Request {{ reference }}",
        body_text_template="Hello {{ recipient_name }}",
        body_html_template="",
    )
    values.update(overrides)
    return notice_template_create(**values)


def test_every_kind_has_an_active_english_template_seeded_that_renders_its_sample():
    for kind in NoticeKind.values:
        template = NoticeTemplate.objects.get(kind=kind, language="en", active=True)
        rendered = notice_template_validate(template=template)  # strict: no undefined variable either
        assert (
            rendered.subject.strip() and rendered.text.strip() and rendered.html.startswith("<!DOCTYPE html>")
        )
    assert set(SAMPLE_CONTEXTS) == set(NoticeKind.values)


def test_breach_template_is_titled_notice_of_data_breach_with_the_california_headings_in_order():
    template = NoticeTemplate.objects.get(kind=NoticeKind.BREACH_NOTIFICATION, active=True)
    rendered = template_preview(template)
    assert rendered.subject == "Notice of Data Breach"
    assert "Notice of Data Breach</h1>" in rendered.html
    for body, headings in ((rendered.html, CA_HEADINGS), (rendered.text, [h.upper() for h in CA_HEADINGS])):
        positions = [body.index(h) for h in headings]
        assert positions == sorted(positions)


def test_a_template_with_a_syntax_error_is_refused_with_the_line():
    with pytest.raises(ValidationError) as excinfo:
        _create(body_text_template="Hello\n{% for x in items %}{{ x }}\n{% endfo %}")
    errors = excinfo.value.message_dict["body_text_template"]
    assert "syntax error" in errors[0] and "line 3" in errors[0]
    assert NoticeTemplate.objects.filter(kind=NoticeKind.REQUEST_ACKNOWLEDGED).count() == 1


def test_a_template_using_an_undefined_variable_is_refused():
    with pytest.raises(ValidationError) as excinfo:
        _create(subject_template="Request {{ refrence }}")
    assert "refrence" in excinfo.value.message_dict["subject_template"][0]


def test_an_extra_variable_is_accepted_once_the_sample_context_defines_it():
    template = _create(subject_template="Request {{ ticket }}", sample_context={"ticket": "T-1"})
    assert template.pk and template.version == 2


@pytest.mark.parametrize(
    "source",
    [
        "{% load static %}{% static 'x.css' %}",
        "{% include 'admin/base.html' %}",
        "{% extends 'admin/base.html' %}",
        "{% debug %}",
        "{% url 'admin:index' %}",
        "{{ recipient_name|safe }}",
        "{% autoescape off %}{{ recipient_name }}{% endautoescape %}",
    ],
)
def test_the_sandbox_refuses_tags_and_filters_that_reach_outside_plain_data(source):
    with pytest.raises(ValidationError):
        _create(body_html_template=source)


def test_an_empty_subject_line_is_refused():
    with pytest.raises(ValidationError, match="renders empty"):
        _create(subject_template="{% if false %}x{% endif %}")


def test_only_plain_data_reaches_a_template(subject):
    with pytest.raises(NotPlainData, match="DataSubject"):
        plain_data({"nested": [{"who": subject}]})
    copy = plain_data({"a": [1, "x"], "b": {"c": None}})
    assert copy == {"a": [1, "x"], "b": {"c": None}}


def test_html_is_escaped_and_text_is_not():
    rendered = render(
        subject_template="Hi {{ name }}",
        body_text_template="{{ name }}",
        body_html_template="<p>{{ name }}</p>",
        context={"name": "<script>x</script> & co"},
    )
    assert "<p>&lt;script&gt;x&lt;/script&gt; &amp; co</p>" in rendered.html
    assert rendered.text == "<script>x</script> & co\n"
    assert rendered.subject == "Hi <script>x</script> & co"


def test_subject_lines_are_one_line_so_headers_cannot_be_injected():
    rendered = render(subject_template="A {{ x }}", body_text_template="", body_html_template="",
                      context={"x": "b\nBcc: evil@example.com"})  # fmt: skip
    assert "\n" not in rendered.subject


def test_changing_the_wording_makes_a_new_version_and_new_notices_use_it(subject):
    template = NoticeTemplate.objects.get(kind=NoticeKind.REQUEST_ACKNOWLEDGED, active=True)
    old = enqueue_ack(subject, key="before")
    template.subject_template = "Your request {{ reference }} has arrived"
    notice_template_save(template=template)
    assert template.version == 2
    new = enqueue_ack(subject, key="after")
    old.refresh_from_db()
    assert (old.template_version, new.template_version) == (1, 2)
    assert old.email_subject == "We received your privacy request DSAR-2026-00042"  # what was sent stays
    assert new.email_subject == "Your request DSAR-2026-00042 has arrived"


def test_saving_without_changing_the_wording_keeps_the_version():
    template = NoticeTemplate.objects.get(kind=NoticeKind.REQUEST_ACKNOWLEDGED, active=True)
    template.description = "Reviewed by legal"
    notice_template_save(template=template)
    assert template.version == 1


def test_a_new_active_version_deactivates_the_previous_one():
    first = NoticeTemplate.objects.get(kind=NoticeKind.REQUEST_ACKNOWLEDGED, active=True)
    second = _create()
    first.refresh_from_db()
    assert second.active and not first.active
    assert NoticeTemplate.objects.filter(kind=NoticeKind.REQUEST_ACKNOWLEDGED, active=True).count() == 1


def test_the_only_active_english_template_of_a_kind_cannot_be_deactivated():
    template = NoticeTemplate.objects.get(kind=NoticeKind.REQUEST_ACKNOWLEDGED, active=True)
    template.active = False
    with pytest.raises(ValidationError) as excinfo:
        notice_template_save(template=template)
    assert "only active English template" in excinfo.value.message_dict["active"][0]


def test_a_language_version_is_used_for_that_language(subject):
    _create(language="de", subject_template="Ihre Anfrage {{ reference }}", body_text_template="Hallo")
    german = enqueue_ack(subject, key="de", language="de-AT")
    assert german.language == "de" and german.email_subject == "Ihre Anfrage DSAR-2026-00042"


def test_sample_context_merges_common_kind_and_template_values():
    merged = sample_context(NoticeKind.DEADLINE_EXTENDED, {"reasons": "Custom"})
    assert merged["organisation"] == "SYSPRO USA" and merged["reasons"] == "Custom"
    assert "new_due_on" in merged


def test_a_template_the_callers_context_does_not_satisfy_is_refused_without_echoing_the_context(subject):
    _create(
        subject_template="Request {{ reference|default:ticket }}",
        sample_context={"ticket": "T-1"},
    )
    with pytest.raises(ValidationError) as excinfo:
        enqueue_ack(subject, key="k", context={"reference": ""})  # no "ticket": the filter argument fails
    message = excinfo.value.messages[0]
    assert "the variable 'ticket' is missing" in message
    assert "Bob Example" not in message and "bob@example.com" not in message


def test_opt_out_confirmation_reads_well_from_the_purpose_code_alone(subject):
    from notices.models import NoticeKind as K

    notice = enqueue_ack(subject, key="opt", kind=K.OPT_OUT_CONFIRMED, context={"purpose": "marketing_email"})
    assert notice.email_subject == "Confirmed: you opted out of marketing emails"
    assert "took effect on" in notice.body_text


# --- render_many: a batch renders as each notice alone would -------------------------------------------
@pytest.mark.parametrize("kind", sorted(DEFAULT_TEMPLATES))
def test_render_many_gives_each_context_what_render_gives_it(kind):
    sample = {**COMMON_CONTEXT, **SAMPLE_CONTEXTS.get(kind, {})}
    contexts = []
    for i in range(6):
        context = dict(sample)
        context["recipient_name"] = ["Ana", "", "Zoë <b> & Co"][i % 3]
        context["reference"] = f"R-{i}"
        if i == 3:  # one context differs in a variable the others share, one lacks a variable
            context[next(iter(SAMPLE_CONTEXTS.get(kind, {"x": 1})))] = ""
        if i == 4 and len(context) > 1:
            context.pop(sorted(SAMPLE_CONTEXTS.get(kind, {"x": 1}))[-1], None)
        contexts.append(context)
    parts = DEFAULT_TEMPLATES[kind]
    assert rendering.render_many(**parts, contexts=contexts) == [
        rendering.render(**parts, context=context) for context in contexts
    ]


@pytest.mark.parametrize(
    "source",
    [
        # 1, 1.0 and True are equal in Python but render differently: not one shared value.
        "{{ n }}|{% if n == 1 %}one{% endif %}|{{ ref }}",
        # A loop variable that shadows a shared name is rendered per notice.
        "{% for ref in items %}{{ ref }}{% endfor %}{{ ref }}{{ shared }}",
        # A tag that assigns a variable: the template is rendered per notice, as is.
        "{% firstof ref as shared %}{{ shared }}{% cycle 'a' 'b' as n %}{{ n }}",
        # Mixed conditions: the shared one decided once, the varying one per notice.
        "{% if shared %}S{% endif %}{% if ref == 'R-1' %}one{% elif shared %}{{ shared|upper }}{% else %}x{% endif %}",
        "{% if missing %}M{% else %}{{ missing|default:'none' }}{% endif %}{{ shared|date:'Y' }}",
    ],
)
def test_render_many_keeps_what_differs_per_context(source):
    contexts = [
        {"n": value, "ref": f"R-{i}", "items": ["a", "b"], "shared": dt.date(2026, 3, 1)}
        for i, value in enumerate([1, 1.0, True, 1])
    ]
    got = rendering.render_many(subject_template="s", body_text_template=source, body_html_template=source,
                                contexts=contexts)  # fmt: skip
    want = [
        rendering.render(
            subject_template="s", body_text_template=source, body_html_template=source, context=c
        )
        for c in contexts
    ]
    assert got == want


def test_an_instant_is_stated_as_the_business_calendar_date(settings):
    """A link expiring at 03:00 UTC on 20 December expires on the evening of the 19th in California."""
    settings.PRIVACY_TIME_ZONE = "America/Los_Angeles"
    instant = dt.datetime(2026, 12, 20, 3, 0, tzinfo=dt.UTC)
    assert rendering.as_date(instant) == "December 19, 2026"
    assert rendering.as_date(instant.isoformat()) == "December 19, 2026"
    assert rendering.as_date(dt.date(2026, 12, 20)) == "December 20, 2026"  # a date is a date
    assert rendering.as_date(instant, "F j, Y, H:i") == "December 19, 2026, 19:00"  # a template's own format
    context = {**sample_context(NoticeKind.IDENTITY_VERIFICATION), "expires_on": instant.isoformat()}
    rendered = render(**DEFAULT_TEMPLATES[NoticeKind.IDENTITY_VERIFICATION], context=context)
    assert "by December 19, 2026" in rendered.text
