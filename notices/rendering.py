"""Sandboxed rendering of notice templates.

Templates are edited in the admin, so they are treated as untrusted code:
- they run in a dedicated Django template Engine with no loaders (no {% include %}/{% extends %} of
  files), no {% load %}able libraries, and a trimmed set of built-ins: no {% debug %} (dumps the
  context and module names), {% url %}, {% csrf_token %}, {% autoescape %}, and no |safe/|safeseq
  filters (HTML structure belongs to the template, never to the data);
- the context is plain data only (str, numbers, bool, None, dates, Decimal, UUID, lists and dicts of
  these), deep-copied, so a template can reach no model, manager or settings object;
- the HTML body is auto-escaped; the text body and the subject line are not (they are not HTML).

`validate_template` renders a template against its sample context with a strict engine that marks
undefined variables, so typos and syntax errors are refused before a template is saved.
"""

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    VariableDoesNotExist,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Node, NodeList, Template, TextNode, Variable, VariableNode
from django.template.defaulttags import (
    CommentNode,
    ForNode,
    IfNode,
    SpacelessNode,
    TemplateLiteral,
    WithNode,
)
from django.utils.safestring import mark_safe

from core import clock

# --- The sandbox's built-in library (referenced by module path in the engines' `builtins`) ---------
register = Library()
_BLOCKED_TAGS = {"debug", "load", "url", "csrf_token", "autoescape"}
_BLOCKED_FILTERS = {"safe", "safeseq"}
register.tags.update({k: v for k, v in defaulttags.register.tags.items() if k not in _BLOCKED_TAGS})
register.filters.update(
    {k: v for k, v in defaultfilters.register.filters.items() if k not in _BLOCKED_FILTERS}
)


@register.filter
def as_date(value: Any, fmt: str = "F j, Y") -> str:
    """Format a date given as a date, a datetime or an ISO 8601 string ("" when empty); an aware
    datetime is read in the business calendar (core.clock)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
            )
        except ValueError:
            return value
    if isinstance(value, datetime) and value.utcoffset() is not None:
        # An instant (a link's or a package's expiry) is stated on the business's calendar and clock, as
        # every other date in a notice: 03:00 UTC on the 20th is still the 19th in California. A format
        # with a time in it (a template's own) gets the business's time of day.
        value = clock.business_time(value)
    if isinstance(value, date):
        return defaultfilters.date(value, fmt)
    return str(value)


# Consent purposes (codes seeded by the consent app, docs/design.md) as a person reads them.
PURPOSE_LABELS = {
    "marketing_email": "marketing emails",
    "marketing_phone": "marketing calls",
    "analytics_cookies": "analytics cookies",
    "advertising_pixels": "advertising pixels",
    "surveys": "surveys",
    "share_marketing_partners": "sharing your information with other companies for their own marketing",
    "transactional": "service messages",
}


@register.filter
def purpose_label(value: Any) -> str:
    """A consent purpose code in words ("marketing_email" -> "marketing emails"); other text unchanged."""
    text = str(value or "")
    return (
        PURPOSE_LABELS.get(text, text.replace("_", " ") if text and " " not in text else text) or "marketing"
    )


_UNDEFINED = "\x00undefined:%s\x00"
_UNDEFINED_RE = re.compile("\x00undefined:(.*?)\x00")
_SCALARS = (str, int, float, bool, Decimal, date, datetime, time, UUID, type(None))
MAX_SUBJECT_LENGTH = 250


class SandboxEngine(Engine):
    default_builtins: list[str] = []


def _engine(*, autoescape: bool, strict: bool) -> Engine:
    return SandboxEngine(
        dirs=[],
        app_dirs=False,
        loaders=[("django.template.loaders.locmem.Loader", {})],
        libraries={},
        builtins=["notices.rendering"],
        autoescape=autoescape,
        string_if_invalid=_UNDEFINED if strict else "",
        debug=strict,  # line numbers in error messages shown to the template's author
    )


ENGINES = {
    (autoescape, strict): _engine(autoescape=autoescape, strict=strict)
    for autoescape in (True, False)
    for strict in (True, False)
}


class NotPlainData(TypeError):
    """A notice context held something other than plain data (a model instance, a queryset, ...)."""


def plain_data(value: Any, _path: str = "context") -> Any:
    """A deep copy of `value`, refusing anything that is not plain data."""
    if isinstance(value, _SCALARS):
        return copy.copy(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotPlainData(f"{_path}: keys must be strings.")
            out[key] = plain_data(item, f"{_path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [plain_data(item, f"{_path}[{i}]") for i, item in enumerate(value)]
    # Name the type, never the value: the value may be personal data.
    raise NotPlainData(
        f"{_path}: {type(value).__name__} is not plain data (use ids, strings, dates, numbers)."
    )


@lru_cache(maxsize=512)
def _compile(source: str, autoescape: bool, strict: bool):
    return ENGINES[(autoescape, strict)].from_string(source)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_SUBJECT_LENGTH]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str  # "" when the template has no HTML body


HTML_LAYOUT = """<!DOCTYPE html>
<html lang="{{ language }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<div style="max-width:640px;margin:0 auto;padding:24px;background:#ffffff;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#1f2328;">
{{ body }}
</div></body></html>"""


@lru_cache(maxsize=1)
def _layout():
    return Engine(autoescape=True).from_string(HTML_LAYOUT)


def render(
    *,
    subject_template: str,
    body_text_template: str,
    body_html_template: str,
    context: Mapping[str, Any],
    language: str = "en",
    strict: bool = False,
) -> Rendered:
    """Render the three parts of a notice. Raises TemplateSyntaxError or other render errors as-is."""
    data = plain_data(context)
    subject = _one_line(_compile(subject_template, False, strict).render(Context(data, autoescape=False)))
    text = _compile(body_text_template, False, strict).render(Context(data, autoescape=False)).strip() + "\n"
    html = ""
    if body_html_template.strip():
        body = _compile(body_html_template, True, strict).render(Context(data))
        # The layout is ours (trusted): it inserts the already-escaped body as is.
        html = _layout().render(Context({"language": language, "subject": subject, "body": mark_safe(body)}))
    return Rendered(subject=subject, text=text, html=html)


def describe_failure(exc: Exception) -> str:
    """A render failure in words, without the context (Django's messages dump it: personal data)."""
    if isinstance(exc, VariableDoesNotExist) and exc.params:
        return f"the variable '{exc.params[0]}' is missing from the context"
    return type(exc).__name__


_PART_LABELS = {
    "subject_template": "subject line",
    "body_text_template": "text body",
    "body_html_template": "HTML body",
}


def _describe(exc: Exception) -> str:
    debug = getattr(exc, "template_debug", None)
    where = f"line {debug['line']}: " if debug and debug.get("line") else ""
    return f"{where}{exc}"


def validate_template(
    *,
    subject_template: str,
    body_text_template: str,
    body_html_template: str,
    sample_context: Mapping[str, Any],
    language: str = "en",
) -> Rendered:
    """Refuse a template that does not compile, fails to render, uses a variable the sample context
    doesn't define, or renders an empty subject. Errors are keyed by form field, for the admin."""
    errors: dict[str, list[str]] = {}
    parts = {
        "subject_template": (subject_template, False),
        "body_text_template": (body_text_template, False),
        "body_html_template": (body_html_template, True),
    }
    try:
        data = plain_data(sample_context)
    except NotPlainData as exc:
        raise ValidationError({"sample_context": str(exc)}) from exc
    outputs: dict[str, str] = {}
    for field, (source, autoescape) in parts.items():
        if field == "body_html_template" and not source.strip():
            outputs[field] = ""
            continue
        try:
            template = ENGINES[(autoescape, True)].from_string(source)
        except TemplateSyntaxError as exc:
            errors.setdefault(field, []).append(
                f"The {_PART_LABELS[field]} has a syntax error: {_describe(exc)}"
            )
            continue
        try:
            outputs[field] = template.render(Context(copy.deepcopy(data), autoescape=autoescape))
        except Exception as exc:  # any render failure refuses the template; the message says why
            errors.setdefault(field, []).append(
                f"The {_PART_LABELS[field]} fails to render: {type(exc).__name__}: {_describe(exc)}"
            )
            continue
        missing = sorted(set(_UNDEFINED_RE.findall(outputs[field])))
        if missing:
            errors.setdefault(field, []).append(
                f"The {_PART_LABELS[field]} uses {', '.join(missing)}, which the sample context does not define. "
                "Fix the name, or add it to the sample context if callers provide it."
            )
    if "subject_template" in outputs and not _one_line(outputs["subject_template"]):
        errors.setdefault("subject_template", []).append("The subject line renders empty.")
    if errors:
        raise ValidationError(errors)
    return render(
        subject_template=subject_template,
        body_text_template=body_text_template,
        body_html_template=body_html_template,
        context=data,
        language=language,
    )


# --- Many notices from one template (bulk enqueue) ---------------------------------------------------
# A batch (breach notices, policy-change notices) renders one template for thousands of contexts that
# differ in a few variables (name, reference); the rest (organisation, dates, links) is the same in every
# one. Rendering those parts once per batch instead of once per notice is most of the bulk path's cost.
# The output is the one `render` gives for each context, byte for byte: a node is pre-rendered only if
# every variable it reads has the same value (and type) in every context, and only in templates made of
# tags that cannot assign variables; anything else renders per notice as usual.
_SPECIALISABLE = (TextNode, VariableNode, IfNode, ForNode, WithNode, CommentNode, SpacelessNode)
_IMPURE_FILTERS = {"random"}


class _Variant(Exception):
    """The node reads something that may differ between the contexts: it renders per notice."""


def _fingerprint(value: Any) -> Any:
    """Equal only for values that render the same: 1, 1.0 and True are different values here."""
    if isinstance(value, Mapping):
        return ("map", tuple((key, _fingerprint(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return ("seq", tuple(_fingerprint(item) for item in value))
    return (type(value), value)


def _invariant_keys(contexts: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """The keys present in every context with the same value. (A name absent from every context is
    shared too, rendering as missing everywhere: render_many asks _absent_everywhere for those.)"""
    first = contexts[0]
    same = {key: _fingerprint(value) for key, value in first.items()}
    for context in contexts[1:]:
        if not same:
            break
        for key in list(same):
            if key not in context or _fingerprint(context[key]) != same[key]:
                del same[key]
    return frozenset(same)


def _absent_everywhere(contexts: Sequence[Mapping[str, Any]]) -> Callable[[str], bool]:
    present: set[str] = set()
    for context in contexts:
        present.update(context)
    return lambda name: name not in present


def _filter_names(expression: FilterExpression) -> list[str]:
    names = []
    if isinstance(expression.var, Variable) and expression.var.lookups is not None:
        names.append(expression.var.lookups[0])
    for func, args in expression.filters:
        if getattr(func, "_filter_name", None) in _IMPURE_FILTERS:
            raise _Variant
        for lookup, arg in args:
            if lookup and arg.lookups is not None:
                names.append(arg.lookups[0])
    return names


def _condition_names(condition: Any) -> list[str]:
    if isinstance(condition, TemplateLiteral):
        return _filter_names(condition.value)
    if hasattr(condition, "first"):  # a smartif operator: not, and, or, ==, in, ...
        names = _condition_names(condition.first)
        if condition.second is not None:
            names += _condition_names(condition.second)
        return names
    raise _Variant


def _only_safe_nodes(nodelist: NodeList) -> bool:
    """No tag that assigns a variable ({% cycle … as %}, {% firstof … as %}, {% now … as %}, …): with
    one, a later node could read a value that differs from the context's."""
    for node in nodelist:
        if type(node) not in _SPECIALISABLE:
            return False
        for attr in node.child_nodelists:
            children = getattr(node, attr, None)
            if children and not _only_safe_nodes(children):
                return False
    return True


class _Specialiser:
    """Pre-renders, against the first context, the nodes that read invariant variables only."""

    def __init__(self, template: Template, context: Context, invariant: Callable[[str], bool]) -> None:
        self.template, self.context, self.invariant = template, context, invariant

    def _is_invariant(self, names: list[str]) -> bool:
        return all(self.invariant(name) for name in names)

    def nodelist(self, nodelist: NodeList) -> NodeList:
        out = NodeList()
        for node in nodelist:
            for new in self.node(node):
                if isinstance(new, TextNode) and out and isinstance(out[-1], TextNode):
                    out[-1] = TextNode(out[-1].s + new.s)
                else:
                    out.append(new)
        return out

    def node(self, node: Node) -> list[Node]:
        try:
            if isinstance(node, VariableNode) and self._is_invariant(_filter_names(node.filter_expression)):
                return [TextNode(node.render_annotated(self.context))]
        except _Variant:
            return [node]
        if isinstance(node, IfNode):
            return self.if_node(node)
        return [node]

    def if_node(self, node: IfNode) -> list[Node]:
        """Branches whose condition is invariant are decided now; from the first variant one on, the
        remaining branches stay a (smaller) {% if %}, each specialised."""
        kept = []
        for position, (condition, nodelist) in enumerate(node.conditions_nodelists):
            try:
                decided = condition is None or self._is_invariant(_condition_names(condition))
            except _Variant:
                decided = False
            if not decided:
                kept = [(c, self.nodelist(n)) for c, n in node.conditions_nodelists[position:]]
                break
            if condition is None:
                return list(self.nodelist(nodelist))
            try:
                match = condition.eval(self.context)
            except VariableDoesNotExist:
                match = None
            if match:
                return list(self.nodelist(nodelist))
        if not kept:
            return []
        specialised = copy.copy(node)
        specialised.conditions_nodelists = kept
        return [specialised]

    def template_copy(self) -> Template:
        with self.context.render_context.push_state(self.template), self.context.bind_template(self.template):
            nodelist = self.nodelist(self.template.nodelist)
        specialised = copy.copy(self.template)
        specialised.nodelist = nodelist
        return specialised


def _specialise(
    source: str, autoescape: bool, first: dict[str, Any], invariant: Callable[[str], bool]
) -> Template:
    template = _compile(source, autoescape, False)
    if not _only_safe_nodes(template.nodelist):
        return template
    try:
        return _Specialiser(
            template, Context(copy.deepcopy(first), autoescape=autoescape), invariant
        ).template_copy()
    except Exception:  # the first context fails this part: render per notice, where it raises as usual
        return template


def render_many(
    *,
    subject_template: str,
    body_text_template: str,
    body_html_template: str,
    contexts: Sequence[Mapping[str, Any]],
    language: str = "en",
) -> list[Rendered]:
    """`render` for each context (the same output, the same errors), the parts that read only variables
    equal in every context rendered once for all."""
    data = [plain_data(context) for context in contexts]
    if not data:
        return []
    keys, absent = _invariant_keys(data), _absent_everywhere(data)
    invariant = (lambda name: name in keys or absent(name)) if len(data) > 1 else (lambda name: False)
    subject_t = _specialise(subject_template, False, data[0], invariant)
    text_t = _specialise(body_text_template, False, data[0], invariant)
    html_t = _specialise(body_html_template, True, data[0], invariant) if body_html_template.strip() else None
    layout = _layout()
    out = []
    for item in data:
        subject = _one_line(subject_t.render(Context(item, autoescape=False)))
        text = text_t.render(Context(item, autoescape=False)).strip() + "\n"
        html = ""
        if html_t is not None:
            body = html_t.render(Context(item))
            html = layout.render(Context({"language": language, "subject": subject, "body": mark_safe(body)}))
        out.append(Rendered(subject=subject, text=text, html=html))
    return out
