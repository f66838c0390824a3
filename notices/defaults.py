"""The default wording of every notice, and the context each kind expects (seeded by migration 0002).

`SAMPLE_CONTEXTS[kind]` documents the variables a caller of `notice_enqueue` passes for that kind (all
optional unless the text would make no sense without them), with sample values used by the admin
preview and by the render check. Every notice also gets the `COMMON_CONTEXT` variables from the service:
organisation, privacy_email, privacy_phone, postal_address, site_url, recipient_name (the subject's
name, or ""), notice_reference (short id of the notice), today, unsubscribe_url (marketing only).

Dates may be passed as date/datetime objects or ISO 8601 strings; templates format them with
`|as_date`. Texts follow policy §4 (transactional messages can't be opted out of; marketing needs
consent), §6 (breaches), §7 (contact routes) and §11 (policy changes).
"""

from datetime import date

from .models import NoticeKind as K

COMMON_CONTEXT = {
    "organisation": "SYSPRO USA",
    "privacy_email": "privacy@us.syspro.com",
    "privacy_phone": "800-369-8649",
    "postal_address": "",
    "site_url": "https://us.syspro.com",
    "recipient_name": "Alex Example",
    "notice_reference": "3f2a9c1b",
    "today": date(2026, 3, 2),
    "unsubscribe_url": "",
}

_GREETING = "{% if recipient_name %}Dear {{ recipient_name }},{% else %}Hello,{% endif %}"
_HTML_GREETING = f"<p>{_GREETING}</p>"
_SIGNATURE = "{{ organisation }} Privacy Office\n{{ privacy_email }} · {{ privacy_phone }}"
_HTML_SIGNATURE = (
    '<p style="margin-top:24px;">{{ organisation }} Privacy Office<br>'
    '<a href="mailto:{{ privacy_email }}">{{ privacy_email }}</a> · {{ privacy_phone }}</p>'
)
_FOOTER = "{% if reference %}Reference: {{ reference }} · {% endif %}Notice {{ notice_reference }}"
_HTML_FOOTER = (
    '<p style="color:#6b7280;font-size:13px;">{% if reference %}Reference: {{ reference }} · {% endif %}'
    "Notice {{ notice_reference }}</p>"
)

SAMPLE_CONTEXTS: dict[str, dict] = {
    K.REQUEST_ACKNOWLEDGED: {
        "reference": "DSAR-2026-00042",
        "request_type": "access to your personal information",
        "regime": "the California Consumer Privacy Act",
        "received_on": date(2026, 3, 1),
        "due_on": date(2026, 4, 15),
        "status_url": "https://privacy.example.com/requests/status/abc",
        "next_steps": "We may ask you to confirm your identity before we can answer.",
    },
    K.IDENTITY_VERIFICATION: {
        "reference": "DSAR-2026-00042",
        "verification_url": "https://privacy.example.com/verify/abc",
        "expires_on": date(2026, 3, 16),
        "data_points": ["the email address you registered with", "the name of your company"],
        "instructions": "",
    },
    K.REQUEST_COMPLETED: {
        "reference": "DSAR-2026-00042",
        "request_type": "access to your personal information",
        "completed_on": date(2026, 3, 20),
        "summary": "The attached package lists every category of personal information we hold about you.",
        "download_url": "https://privacy.example.com/packages/abc",
        "download_expires_on": date(2026, 4, 19),
    },
    K.DEADLINE_EXTENDED: {
        "reference": "DSAR-2026-00042",
        "original_due_on": date(2026, 4, 15),
        "new_due_on": date(2026, 5, 30),
        "reasons": "Your request covers several systems run by our service providers.",
    },
    K.REQUEST_DENIED: {
        "reference": "DSAR-2026-00042",
        "request_type": "deletion of your personal information",
        "reasons": "We could not verify your identity with the information provided.",
        "appeal_instructions": "Reply to this message with the additional information requested.",
        "authority_name": "",
    },
    K.ERASURE_CONFIRMATION: {
        "reference": "DSAR-2026-00042",
        "completed_on": date(2026, 3, 20),
        "kept_records": [
            {
                "description": "Invoices",
                "reason": "kept to comply with a legal obligation (GDPR Art. 17(3)(b))",
            }
        ],
        "certificate_reference": "EC-2026-00042",
    },
    K.ERASURE_PARTIAL: {
        "reference": "DSAR-2026-00042",
        "erased_count": 312,
        "kept_records": [
            {
                "description": "Invoices (4)",
                "reason": "Art. 17(3)(b): legal obligation or public task (CCPA: Cal. Civ. Code §1798.105(d)(8))",
            }
        ],
        "certificate_reference": "EC-2026-00042",
    },
    K.NOTICE_1798_83_DELIVERED: {
        "reference": "SHINE-2026-0007",
        "year": 2025,
        "categories": ["Name and address", "Email", "Occupation"],
        "recipients": [
            {
                "name": "Partner 1 Inc.",
                "address": "1 Market Street, San Francisco CA 94105, US",
                "nature_of_business": "Business software reseller",
                "product_examples": "ERP add-ons, training courses",
            }
        ],
        "notice_text": "",
        "notice_url": "",
    },
    K.POLICY_CHANGED: {
        "policy_version": "2026-03",
        "effective_on": date(2026, 4, 1),
        "summary": "We clarified how long we keep website activity data and added a new service provider.",
        "policy_url": "https://us.syspro.com/privacy/",
    },
    K.BREACH_NOTIFICATION: {
        "breach_reference": "7c1e2d4a",
        "notice_date": date(2026, 3, 5),
        "occurred_description": "between February 27, 2026 and March 1, 2026",
        "discovered_on": date(2026, 3, 1),
        "what_happened": "An unauthorised party accessed a file server used by our support team.",
        "information_involved": "Your name, business email address and telephone number.",
        "categories": ["Personal contact information"],
        "likely_consequences": "",
        "what_we_are_doing": "We closed the access, reset credentials and engaged an outside forensic firm.",
        "what_you_can_do": "Be cautious of unexpected emails asking for passwords or payment details.",
        "for_more_information": "Call 800-369-8649 or write to privacy@us.syspro.com.",
        "law_enforcement_delay": False,
    },
    K.OPT_OUT_CONFIRMED: {
        "purpose": "marketing_email",
        "purpose_name": "",
        "effective_on": date(2026, 3, 2),
        "channel": "unsubscribe link",
    },
    K.ASSIGNEE_REMINDER: {
        "reference": "DSAR-2026-00042",
        "assignee_name": "Jordan",
        "action": "Respond to the access request",
        "due_on": date(2026, 4, 15),
        "days_left": 3,
        "case_url": "https://privacyops.example.com/admin/requests_app/case/1/change/",
    },
    K.RECIPIENT_NOTIFICATION: {
        "third_party_name": "Partner 1 Inc.",
        "action": "erasure",
        "reference": "DSAR-2026-00042",
        "subject_identifiers": ["alex@example.com"],
        "details": "Please erase every record you received from us about this person.",
        "respond_by": date(2026, 4, 1),
        "legal_basis": "GDPR Art. 19 and Cal. Civ. Code §1798.105(c)",
    },
    K.OPERATIONS_REPORT: {
        "title": "Retention sweep finished",
        "summary": "1,204 records were erased; 3 were kept under legal hold.",
        "items": ["Activity events: 1,150 erased", "Survey responses: 54 erased"],
        "link": "https://privacyops.example.com/admin/",
    },
    K.MARKETING: {
        "headline": "New in SYSPRO this spring",
        "body": "Three new features for inventory planning are now available.",
        "cta_url": "https://us.syspro.com/whats-new",
        "cta_label": "See what's new",
        "unsubscribe_url": "https://privacyops.example.com/consent/unsubscribe/token",
    },
}


def _t(subject: str, text: str, html: str) -> dict[str, str]:
    return {
        "subject_template": subject,
        "body_text_template": text.strip() + "\n",
        "body_html_template": html.strip(),
    }


DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    K.REQUEST_ACKNOWLEDGED: _t(
        "We received your privacy request {{ reference }}",
        f"""
{_GREETING}

We received your request for {{{{ request_type }}}} on {{{{ received_on|as_date }}}}. Your reference number is {{{{ reference }}}}; please quote it in any message about this request.

{{% if regime %}}We are handling your request under {{{{ regime }}}}. {{% endif %}}We will respond by {{{{ due_on|as_date }}}}. If we need more time, we will tell you before that date and explain why.
{{% if next_steps %}}
{{{{ next_steps }}}}
{{% endif %}}{{% if status_url %}}
You can follow your request at {{{{ status_url }}}}
{{% endif %}}
If you did not make this request, please tell us at once at {{{{ privacy_email }}}} or {{{{ privacy_phone }}}}.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>We received your request for {{{{ request_type }}}} on {{{{ received_on|as_date }}}}. Your reference number is <strong>{{{{ reference }}}}</strong>; please quote it in any message about this request.</p>
<p>{{% if regime %}}We are handling your request under {{{{ regime }}}}. {{% endif %}}We will respond by <strong>{{{{ due_on|as_date }}}}</strong>. If we need more time, we will tell you before that date and explain why.</p>
{{% if next_steps %}}<p>{{{{ next_steps }}}}</p>{{% endif %}}
{{% if status_url %}}<p><a href="{{{{ status_url }}}}">Follow your request</a></p>{{% endif %}}
<p>If you did not make this request, please tell us at once at <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a> or {{{{ privacy_phone }}}}.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.IDENTITY_VERIFICATION: _t(
        "Please confirm your identity for request {{ reference }}",
        f"""
{_GREETING}

To protect your personal information, we need to confirm that request {{{{ reference }}}} was made by you before we act on it.

Please confirm your identity here{{% if expires_on %}} by {{{{ expires_on|as_date }}}}{{% endif %}}:
{{{{ verification_url }}}}
{{% if data_points %}}
You will be asked for:
{{% for point in data_points %}}- {{{{ point }}}}
{{% endfor %}}{{% endif %}}{{% if instructions %}}
{{{{ instructions }}}}
{{% endif %}}
We use this information only to verify your request. If you did not make it, you can ignore this message, or let us know at {{{{ privacy_email }}}}.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>To protect your personal information, we need to confirm that request <strong>{{{{ reference }}}}</strong> was made by you before we act on it.</p>
<p><a href="{{{{ verification_url }}}}" style="display:inline-block;padding:10px 18px;background:#0b5cad;color:#ffffff;text-decoration:none;border-radius:4px;">Confirm my identity</a>{{% if expires_on %}} &nbsp;by {{{{ expires_on|as_date }}}}{{% endif %}}</p>
{{% if data_points %}}<p>You will be asked for:</p><ul>{{% for point in data_points %}}<li>{{{{ point }}}}</li>{{% endfor %}}</ul>{{% endif %}}
{{% if instructions %}}<p>{{{{ instructions }}}}</p>{{% endif %}}
<p>We use this information only to verify your request. If you did not make it, you can ignore this message, or let us know at <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a>.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.REQUEST_COMPLETED: _t(
        "Your privacy request {{ reference }} is complete",
        f"""
{_GREETING}

We have completed your request for {{{{ request_type }}}}{{% if completed_on %}} on {{{{ completed_on|as_date }}}}{{% endif %}}.
{{% if summary %}}
{{{{ summary }}}}
{{% endif %}}{{% if download_url %}}
You can download your information securely at {{{{ download_url }}}}{{% if download_expires_on %}} until {{{{ download_expires_on|as_date }}}}{{% endif %}}.
{{% endif %}}
If you have questions about this response, contact us at {{{{ privacy_email }}}} or {{{{ privacy_phone }}}} and quote your reference number.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>We have completed your request for {{{{ request_type }}}}{{% if completed_on %}} on {{{{ completed_on|as_date }}}}{{% endif %}}.</p>
{{% if summary %}}<p>{{{{ summary }}}}</p>{{% endif %}}
{{% if download_url %}}<p><a href="{{{{ download_url }}}}">Download your information</a>{{% if download_expires_on %}} (available until {{{{ download_expires_on|as_date }}}}){{% endif %}}</p>{{% endif %}}
<p>If you have questions about this response, contact us at <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a> or {{{{ privacy_phone }}}} and quote your reference number.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.DEADLINE_EXTENDED: _t(
        "We need more time for your request {{ reference }}",
        f"""
{_GREETING}

We are writing about your privacy request {{{{ reference }}}}. We were due to respond by {{{{ original_due_on|as_date }}}}, but we need more time to answer it fully. We will now respond by {{{{ new_due_on|as_date }}}}.

Why we need more time:
{{{{ reasons }}}}

The law allows this extension where it is necessary. If you have questions, contact us at {{{{ privacy_email }}}} or {{{{ privacy_phone }}}}.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>We are writing about your privacy request <strong>{{{{ reference }}}}</strong>. We were due to respond by {{{{ original_due_on|as_date }}}}, but we need more time to answer it fully. We will now respond by <strong>{{{{ new_due_on|as_date }}}}</strong>.</p>
<p><strong>Why we need more time:</strong><br>{{{{ reasons|linebreaksbr }}}}</p>
<p>The law allows this extension where it is necessary. If you have questions, contact us at <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a> or {{{{ privacy_phone }}}}.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.REQUEST_DENIED: _t(
        "Our response to your privacy request {{ reference }}",
        f"""
{_GREETING}

We have reviewed your request for {{{{ request_type }}}} (reference {{{{ reference }}}}). We are unable to act on it, for the following reasons:

{{{{ reasons }}}}
{{% if appeal_instructions %}}
{{{{ appeal_instructions }}}}
{{% endif %}}
Your rights: you may ask us to reconsider by replying to this message. You also have the right to lodge a complaint with a data protection supervisory authority{{% if authority_name %}} ({{{{ authority_name }}}}){{% else %}}, in particular in the country where you live or work{{% endif %}}, and to seek a judicial remedy. California residents may also contact the California Privacy Protection Agency.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>We have reviewed your request for {{{{ request_type }}}} (reference <strong>{{{{ reference }}}}</strong>). We are unable to act on it, for the following reasons:</p>
<p>{{{{ reasons|linebreaksbr }}}}</p>
{{% if appeal_instructions %}}<p>{{{{ appeal_instructions }}}}</p>{{% endif %}}
<p><strong>Your rights:</strong> you may ask us to reconsider by replying to this message. You also have the right to lodge a complaint with a data protection supervisory authority{{% if authority_name %}} ({{{{ authority_name }}}}){{% else %}}, in particular in the country where you live or work{{% endif %}}, and to seek a judicial remedy. California residents may also contact the California Privacy Protection Agency.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.ERASURE_PARTIAL: _t(
        "Your deletion request {{ reference }}: part of your information is kept for now",
        f"""
{_GREETING}

As you asked in request {{{{ reference }}}}, we have deleted {{{{ erased_count }}}} record(s) of your personal information. We have not deleted everything: the law requires or allows us to keep the following records for now.
{{% for record in kept_records %}}- {{{{ record.description }}}}: {{{{ record.reason }}}}
{{% endfor %}}
These records are used for nothing else. When the reason to keep them ends, we will delete them and write to you again; your request stays open until then.
{{% if certificate_reference %}}
Certificate of the partial erasure: {{{{ certificate_reference }}}}
{{% endif %}}
If you have questions, contact us at {{{{ privacy_email }}}}.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>As you asked in request <strong>{{{{ reference }}}}</strong>, we have deleted {{{{ erased_count }}}} record(s) of your personal information. We have not deleted everything: the law requires or allows us to keep the following records for now.</p>
<ul>{{% for record in kept_records %}}<li>{{{{ record.description }}}}: {{{{ record.reason }}}}</li>{{% endfor %}}</ul>
<p>These records are used for nothing else. When the reason to keep them ends, we will delete them and write to you again; your request stays open until then.</p>
{{% if certificate_reference %}}<p>Certificate of the partial erasure: {{{{ certificate_reference }}}}</p>{{% endif %}}
<p>If you have questions, contact us at <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a>.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.ERASURE_CONFIRMATION: _t(
        "Your personal information has been deleted ({{ reference }})",
        f"""
{_GREETING}

As you asked in request {{{{ reference }}}}, we have deleted your personal information from our systems{{% if completed_on %}} on {{{{ completed_on|as_date }}}}{{% endif %}}. We have also told the service providers and partners who received it to delete it.
{{% if kept_records %}}
The law requires or allows us to keep the following records:
{{% for record in kept_records %}}- {{{{ record.description }}}}: {{{{ record.reason }}}}
{{% endfor %}}These records are kept only as long as necessary and are not used for any other purpose.
{{% endif %}}{{% if certificate_reference %}}
Certificate of erasure: {{{{ certificate_reference }}}}
{{% endif %}}
This is the last message we will send you about this request. If you have questions, contact us at {{{{ privacy_email }}}}.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>As you asked in request <strong>{{{{ reference }}}}</strong>, we have deleted your personal information from our systems{{% if completed_on %}} on {{{{ completed_on|as_date }}}}{{% endif %}}. We have also told the service providers and partners who received it to delete it.</p>
{{% if kept_records %}}<p>The law requires or allows us to keep the following records:</p>
<ul>{{% for record in kept_records %}}<li>{{{{ record.description }}}}: {{{{ record.reason }}}}</li>{{% endfor %}}</ul>
<p>These records are kept only as long as necessary and are not used for any other purpose.</p>{{% endif %}}
{{% if certificate_reference %}}<p>Certificate of erasure: {{{{ certificate_reference }}}}</p>{{% endif %}}
<p>This is the last message we will send you about this request. If you have questions, contact us at <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a>.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.NOTICE_1798_83_DELIVERED: _t(
        'Your California "Shine the Light" notice for {{ year }}',
        f"""
{_GREETING}

Under California Civil Code §1798.83, you asked which personal information {{{{ organisation }}}} disclosed to third parties for their direct marketing purposes during {{{{ year }}}}.
{{% if notice_text %}}
{{{{ notice_text }}}}
{{% elif recipients %}}
Categories of personal information disclosed:
{{% for category in categories %}}- {{{{ category }}}}
{{% endfor %}}
Third parties that received it:
{{% for r in recipients %}}- {{{{ r.name }}}}, {{{{ r.address }}}}{{% if r.nature_of_business %}}. Business: {{{{ r.nature_of_business }}}}{{% endif %}}{{% if r.product_examples %}} (for example: {{{{ r.product_examples }}}}){{% endif %}}
{{% endfor %}}{{% else %}}
We did not disclose your personal information to any third party for its direct marketing purposes during {{{{ year }}}}.
{{% endif %}}{{% if notice_url %}}
A copy of this notice is available at {{{{ notice_url }}}}
{{% endif %}}
You may make this request once per calendar year. Questions: {{{{ privacy_email }}}} or {{{{ privacy_phone }}}}.

{_SIGNATURE}

{_FOOTER}
""",
        f"""
{_HTML_GREETING}
<p>Under California Civil Code §1798.83, you asked which personal information {{{{ organisation }}}} disclosed to third parties for their direct marketing purposes during {{{{ year }}}}.</p>
{{% if notice_text %}}<p>{{{{ notice_text|linebreaksbr }}}}</p>
{{% elif recipients %}}<h3>Categories of personal information disclosed</h3>
<ul>{{% for category in categories %}}<li>{{{{ category }}}}</li>{{% endfor %}}</ul>
<h3>Third parties that received it</h3>
<ul>{{% for r in recipients %}}<li><strong>{{{{ r.name }}}}</strong>, {{{{ r.address }}}}{{% if r.nature_of_business %}}. Business: {{{{ r.nature_of_business }}}}{{% endif %}}{{% if r.product_examples %}} (for example: {{{{ r.product_examples }}}}){{% endif %}}</li>{{% endfor %}}</ul>
{{% else %}}<p>We did not disclose your personal information to any third party for its direct marketing purposes during {{{{ year }}}}.</p>{{% endif %}}
{{% if notice_url %}}<p><a href="{{{{ notice_url }}}}">A copy of this notice</a></p>{{% endif %}}
<p>You may make this request once per calendar year. Questions: <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a> or {{{{ privacy_phone }}}}.</p>
{_HTML_SIGNATURE}
{_HTML_FOOTER}
""",
    ),
    K.POLICY_CHANGED: _t(
        "We are updating our Privacy Policy",
        f"""
{_GREETING}

We are updating the {{{{ organisation }}}} Privacy Policy{{% if effective_on %}}, effective {{{{ effective_on|as_date }}}}{{% endif %}}{{% if policy_version %}} (version {{{{ policy_version }}}}){{% endif %}}.

What is changing:
{{{{ summary }}}}

You can read the full policy at {{{{ policy_url }}}}

This is a service message: we send it to everyone we hold information about, whatever their marketing preferences. If you have questions, contact us at {{{{ privacy_email }}}} or {{{{ privacy_phone }}}}.

{_SIGNATURE}
""",
        f"""
{_HTML_GREETING}
<p>We are updating the {{{{ organisation }}}} Privacy Policy{{% if effective_on %}}, effective <strong>{{{{ effective_on|as_date }}}}</strong>{{% endif %}}{{% if policy_version %}} (version {{{{ policy_version }}}}){{% endif %}}.</p>
<p><strong>What is changing:</strong><br>{{{{ summary|linebreaksbr }}}}</p>
<p><a href="{{{{ policy_url }}}}">Read the full policy</a></p>
<p>This is a service message: we send it to everyone we hold information about, whatever their marketing preferences. If you have questions, contact us at <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a> or {{{{ privacy_phone }}}}.</p>
{_HTML_SIGNATURE}
""",
    ),
    # Cal. Civ. Code §1798.82(d)(1): titled "Notice of Data Breach", with these headings, in this order.
    K.BREACH_NOTIFICATION: _t(
        "Notice of Data Breach",
        f"""
NOTICE OF DATA BREACH

Date of this notice: {{{{ notice_date|as_date }}}}

{_GREETING}

We are writing to tell you about an incident that may involve your personal information.

WHAT HAPPENED
{{{{ what_happened }}}}
{{% if occurred_description %}}The breach occurred {{{{ occurred_description }}}}. {{% endif %}}We discovered it on {{{{ discovered_on|as_date }}}}.{{% if law_enforcement_delay %}} This notice was delayed at the request of a law enforcement agency, so as not to impede its investigation.{{% endif %}}

WHAT INFORMATION WAS INVOLVED
{{{{ information_involved }}}}{{% if categories %}}
Categories: {{{{ categories|join:", " }}}}.{{% endif %}}{{% if likely_consequences %}}
{{{{ likely_consequences }}}}{{% endif %}}

WHAT WE ARE DOING
{{{{ what_we_are_doing }}}}

WHAT YOU CAN DO
{{{{ what_you_can_do }}}}

FOR MORE INFORMATION
{{{{ for_more_information }}}}
{{{{ organisation }}}} Privacy Office, {{{{ privacy_email }}}}, {{{{ privacy_phone }}}}{{% if postal_address %}}, {{{{ postal_address }}}}{{% endif %}}

Incident reference: {{{{ breach_reference }}}} · Notice {{{{ notice_reference }}}}
""",
        f"""
<h1 style="font-size:22px;margin:0 0 8px;">Notice of Data Breach</h1>
<p style="color:#4b5563;">Date of this notice: {{{{ notice_date|as_date }}}}</p>
{_HTML_GREETING}
<p>We are writing to tell you about an incident that may involve your personal information.</p>
<table role="presentation" cellpadding="8" style="border-collapse:collapse;width:100%;border:1px solid #d0d7de;">
<tr><th scope="row" style="text-align:left;vertical-align:top;width:30%;background:#f6f8fa;border:1px solid #d0d7de;">What Happened</th>
<td style="border:1px solid #d0d7de;">{{{{ what_happened|linebreaksbr }}}}{{% if occurred_description %}}<br>The breach occurred {{{{ occurred_description }}}}.{{% endif %}} We discovered it on {{{{ discovered_on|as_date }}}}.{{% if law_enforcement_delay %}} This notice was delayed at the request of a law enforcement agency, so as not to impede its investigation.{{% endif %}}</td></tr>
<tr><th scope="row" style="text-align:left;vertical-align:top;background:#f6f8fa;border:1px solid #d0d7de;">What Information Was Involved</th>
<td style="border:1px solid #d0d7de;">{{{{ information_involved|linebreaksbr }}}}{{% if categories %}}<br>Categories: {{{{ categories|join:", " }}}}.{{% endif %}}{{% if likely_consequences %}}<br>{{{{ likely_consequences|linebreaksbr }}}}{{% endif %}}</td></tr>
<tr><th scope="row" style="text-align:left;vertical-align:top;background:#f6f8fa;border:1px solid #d0d7de;">What We Are Doing</th>
<td style="border:1px solid #d0d7de;">{{{{ what_we_are_doing|linebreaksbr }}}}</td></tr>
<tr><th scope="row" style="text-align:left;vertical-align:top;background:#f6f8fa;border:1px solid #d0d7de;">What You Can Do</th>
<td style="border:1px solid #d0d7de;">{{{{ what_you_can_do|linebreaksbr }}}}</td></tr>
<tr><th scope="row" style="text-align:left;vertical-align:top;background:#f6f8fa;border:1px solid #d0d7de;">For More Information</th>
<td style="border:1px solid #d0d7de;">{{{{ for_more_information|linebreaksbr }}}}<br>{{{{ organisation }}}} Privacy Office, <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a>, {{{{ privacy_phone }}}}{{% if postal_address %}}, {{{{ postal_address }}}}{{% endif %}}</td></tr>
</table>
<p style="color:#6b7280;font-size:13px;">Incident reference: {{{{ breach_reference }}}} · Notice {{{{ notice_reference }}}}</p>
""",
    ),
    K.OPT_OUT_CONFIRMED: _t(
        "Confirmed: you opted out of {% if purpose_name %}{{ purpose_name }}{% else %}{{ purpose|purpose_label }}{% endif %}",
        f"""
{_GREETING}

This confirms that you opted out of {{% if purpose_name %}}{{{{ purpose_name }}}}{{% else %}}{{{{ purpose|purpose_label }}}}{{% endif %}} with {{{{ organisation }}}}. Your choice took effect on {{% if effective_on %}}{{{{ effective_on|as_date }}}}{{% else %}}{{{{ today|as_date }}}}{{% endif %}}{{% if channel %}} (received by {{{{ channel }}}}){{% endif %}}.

We will still send you service messages about your account, your requests and changes to our policies; the law and our Privacy Policy do not allow opting out of those.

If you did not ask for this, or change your mind, you can update your preferences at any time. Questions: {{{{ privacy_email }}}}.

{_SIGNATURE}
""",
        f"""
{_HTML_GREETING}
<p>This confirms that you opted out of {{% if purpose_name %}}{{{{ purpose_name }}}}{{% else %}}{{{{ purpose|purpose_label }}}}{{% endif %}} with {{{{ organisation }}}}. Your choice took effect on <strong>{{% if effective_on %}}{{{{ effective_on|as_date }}}}{{% else %}}{{{{ today|as_date }}}}{{% endif %}}</strong>{{% if channel %}} (received by {{{{ channel }}}}){{% endif %}}.</p>
<p>We will still send you service messages about your account, your requests and changes to our policies; the law and our Privacy Policy do not allow opting out of those.</p>
<p>If you did not ask for this, or change your mind, you can update your preferences at any time. Questions: <a href="mailto:{{{{ privacy_email }}}}">{{{{ privacy_email }}}}</a>.</p>
{_HTML_SIGNATURE}
""",
    ),
    K.ASSIGNEE_REMINDER: _t(
        "[privacyops] {{ reference }}: {{ action }} due {{ due_on|as_date }}",
        """
{% if assignee_name %}Hello {{ assignee_name }},{% else %}Hello,{% endif %}

Case {{ reference }} needs action: {{ action }}.
Due: {{ due_on|as_date }}{% if days_left is not None %} ({{ days_left }} day{{ days_left|pluralize }} left){% endif %}.

Open the case: {{ case_url }}

This reminder is sent by privacyops because a statutory deadline applies.
""",
        """
<p>{% if assignee_name %}Hello {{ assignee_name }},{% else %}Hello,{% endif %}</p>
<p>Case <strong>{{ reference }}</strong> needs action: {{ action }}.</p>
<p>Due: <strong>{{ due_on|as_date }}</strong>{% if days_left is not None %} ({{ days_left }} day{{ days_left|pluralize }} left){% endif %}.</p>
<p><a href="{{ case_url }}">Open the case</a></p>
<p style="color:#6b7280;font-size:13px;">This reminder is sent by privacyops because a statutory deadline applies.</p>
""",
    ),
    K.RECIPIENT_NOTIFICATION: _t(
        "Request for {{ action }} of personal data (our reference {{ reference }})",
        """
To the privacy team of {{ third_party_name }},

We have received and accepted a request from a data subject for {{ action }} of their personal data. As a recipient of that data from {{ organisation }}, we ask you to carry out the same {{ action }} in your systems{% if respond_by %} and to confirm by {{ respond_by|as_date }}{% endif %}.

The person can be identified by:
{% for identifier in subject_identifiers %}- {{ identifier }}
{% endfor %}{% if details %}
{{ details }}
{% endif %}
Legal basis: {{ legal_basis|default:"GDPR Art. 19; Cal. Civ. Code §1798.105(c)" }}.

Please reply to {{ privacy_email }} quoting reference {{ reference }}. Please handle this message confidentially and do not keep it longer than needed to act on it.

{{ organisation }} Privacy Office
""",
        """
<p>To the privacy team of {{ third_party_name }},</p>
<p>We have received and accepted a request from a data subject for <strong>{{ action }}</strong> of their personal data. As a recipient of that data from {{ organisation }}, we ask you to carry out the same {{ action }} in your systems{% if respond_by %} and to confirm by <strong>{{ respond_by|as_date }}</strong>{% endif %}.</p>
<p>The person can be identified by:</p>
<ul>{% for identifier in subject_identifiers %}<li>{{ identifier }}</li>{% endfor %}</ul>
{% if details %}<p>{{ details|linebreaksbr }}</p>{% endif %}
<p>Legal basis: {{ legal_basis|default:"GDPR Art. 19; Cal. Civ. Code §1798.105(c)" }}.</p>
<p>Please reply to <a href="mailto:{{ privacy_email }}">{{ privacy_email }}</a> quoting reference <strong>{{ reference }}</strong>. Please handle this message confidentially and do not keep it longer than needed to act on it.</p>
<p>{{ organisation }} Privacy Office</p>
""",
    ),
    K.OPERATIONS_REPORT: _t(
        "[privacyops] {{ title }}",
        """
{{ title }}

{{ summary }}
{% if items %}
{% for item in items %}- {{ item }}
{% endfor %}{% endif %}{% if link %}
Details: {{ link }}
{% endif %}
Sent by privacyops to the privacy office.
""",
        """
<h2 style="font-size:18px;">{{ title }}</h2>
<p>{{ summary|linebreaksbr }}</p>
{% if items %}<ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>{% endif %}
{% if link %}<p><a href="{{ link }}">Details</a></p>{% endif %}
<p style="color:#6b7280;font-size:13px;">Sent by privacyops to the privacy office.</p>
""",
    ),
    K.MARKETING: _t(
        "{{ headline }}",
        f"""
{_GREETING}

{{{{ body }}}}
{{% if cta_url %}}
{{{{ cta_label|default:"Learn more" }}}}: {{{{ cta_url }}}}
{{% endif %}}
--
You receive this email because you agreed to hear from {{{{ organisation }}}}. Unsubscribe at any time, with one click: {{{{ unsubscribe_url }}}}
{{{{ organisation }}}}{{% if postal_address %}}, {{{{ postal_address }}}}{{% endif %}}
""",
        f"""
{_HTML_GREETING}
<h2 style="font-size:20px;">{{{{ headline }}}}</h2>
<p>{{{{ body|linebreaksbr }}}}</p>
{{% if cta_url %}}<p><a href="{{{{ cta_url }}}}" style="display:inline-block;padding:10px 18px;background:#0b5cad;color:#ffffff;text-decoration:none;border-radius:4px;">{{{{ cta_label|default:"Learn more" }}}}</a></p>{{% endif %}}
<p style="color:#6b7280;font-size:12px;border-top:1px solid #e5e7eb;padding-top:12px;">You receive this email because you agreed to hear from {{{{ organisation }}}}. <a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a> at any time, with one click.<br>{{{{ organisation }}}}{{% if postal_address %}}, {{{{ postal_address }}}}{{% endif %}}</p>
""",
    ),
}


def sample_context(kind: str, extra: dict | None = None) -> dict:
    """The full sample context of a kind: common variables, the kind's own, then a template's extras."""
    return {**COMMON_CONTEXT, **SAMPLE_CONTEXTS.get(kind, {}), **(extra or {})}


def seed_default_templates(template_model) -> int:
    """Create version 1 of each kind's English template where none exists (never overwrites edits).

    Takes the model class so the data migration can pass its historical model.
    """
    created = 0
    for kind, parts in DEFAULT_TEMPLATES.items():
        if template_model.objects.filter(kind=kind, language="en").exists():
            continue
        template_model.objects.create(
            kind=kind,
            language="en",
            version=1,
            active=True,
            description="Default wording shipped with privacyops.",
            updated_by="migration",
            **parts,
        )
        created += 1
    return created
