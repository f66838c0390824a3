"""The §1798.83 notice: what it says (NoticeContent) and its one standard layout in HTML, text and PDF.

§1798.83(b)(3) lets the business answer in a standardized format; this is it. The wording is laid out
once as a list of blocks (`layout`) and the three renderers only typeset those blocks, so the HTML,
the plain text and the PDF always say the same thing in the same order.

A notice holds no personal data of the customer: it names the customer by reference only, and lists
categories (the statute's words) and recipients (businesses' names and postal addresses).
"""

import html
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from xml.sax.saxutils import escape as xml_escape

from . import rules
from .statutory import BY_CODE, categories_of, reportable_mask

STATEMENT_VERSION = 1


@dataclass(frozen=True)
class RecipientLine:
    third_party_id: int
    name: str
    postal_address: str
    nature_of_business: str
    product_examples: str
    same_brand_affiliate: bool
    categories: tuple[str, ...]  # statutory codes, statutory order


@dataclass(frozen=True)
class ThirdPartyCard:
    """What a notice prints about a recipient (copied from inventory.ThirdParty)."""

    id: int
    name: str
    postal_address: str
    nature_of_business: str
    product_examples: str
    same_brand_affiliate: bool

    @classmethod
    def of(cls, tp) -> "ThirdPartyCard":
        return cls(
            id=tp.pk,
            name=tp.legal_name,
            postal_address=tp.postal_address,
            nature_of_business=tp.nature_of_business,
            product_examples=tp.product_examples,
            same_brand_affiliate=tp.same_brand_affiliate,
        )


@dataclass(frozen=True)
class Business:
    """The sender's details and policy switches, from DisclosureSettings."""

    name: str
    postal_address: str
    designated_postal_address: str = ""
    designated_email: str = ""
    designated_phone: str = ""
    employee_count: int | None = None
    opt_out_route_enabled: bool = False
    show_same_brand_affiliate_count: bool = True

    @classmethod
    def of(cls, s) -> "Business":
        return cls(
            name=s.business_name,
            postal_address=s.business_postal_address,
            designated_postal_address=s.designated_postal_address,
            designated_email=s.designated_email,
            designated_phone=s.designated_phone,
            employee_count=s.employee_count,
            opt_out_route_enabled=s.opt_out_route_enabled,
            show_same_brand_affiliate_count=s.show_same_brand_affiliate_count,
        )

    @property
    def required(self) -> bool:
        return rules.feature_required(self.employee_count)


@dataclass(frozen=True)
class NoticeContent:
    year: int
    customer_reference: str  # the subject's public id
    categories: tuple[str, ...]  # statutory codes disclosed for direct marketing, statutory order
    recipients: tuple[RecipientLine, ...]
    exempt_affiliate_count: int
    business: Business
    issued_on: str  # ISO date
    reference: str = ""  # the DisclosureNoticeRequest public id once recorded
    version: int = field(default=STATEMENT_VERSION)

    @property
    def has_disclosures(self) -> bool:
        return bool(self.recipients)

    @property
    def category_labels(self) -> list[str]:
        return [BY_CODE[c].label for c in self.categories]

    def rows(self) -> list[tuple[str, str]]:
        """(recipient name, category code) pairs: what the CSV export must hold for this customer."""
        return [(r.name, code) for r in self.recipients for code in r.categories]

    def to_statement(self) -> dict:
        return asdict(self)

    @classmethod
    def from_statement(cls, data: Mapping) -> "NoticeContent":
        data = dict(data)
        data["categories"] = tuple(data["categories"])
        data["recipients"] = tuple(
            RecipientLine(**{**r, "categories": tuple(r["categories"])}) for r in data["recipients"]
        )
        data["business"] = Business(**data["business"])
        return cls(**data)


def build_content(
    *,
    year: int,
    customer_reference: str,
    disclosures: Iterable[tuple[int, int]],
    third_parties: Mapping[int, ThirdPartyCard],
    business: Business,
    issued_on: str,
    reference: str = "",
) -> NoticeContent:
    """Turn (third party id, category mask) pairs of a customer's direct-marketing disclosures in a
    year into the notice. Same-brand affiliates count only for the categories §1798.83(f) keeps
    reportable; an affiliate left with none is not listed (its count may be given)."""
    masks: dict[int, int] = {}
    for tp_id, mask in disclosures:
        masks[tp_id] = masks.get(tp_id, 0) | mask
    lines: list[RecipientLine] = []
    exempt = 0
    union = 0
    for tp_id, mask in masks.items():
        tp = third_parties[tp_id]
        reportable = reportable_mask(mask, same_brand_affiliate=tp.same_brand_affiliate)
        if not reportable:
            if tp.same_brand_affiliate and mask:
                exempt += 1
            continue
        union |= reportable
        lines.append(
            RecipientLine(
                third_party_id=tp.id,
                name=tp.name,
                postal_address=tp.postal_address,
                nature_of_business=tp.nature_of_business,
                product_examples=tp.product_examples,
                same_brand_affiliate=tp.same_brand_affiliate,
                categories=tuple(c.code for c in categories_of(reportable)),
            )
        )
    lines.sort(key=lambda r: (r.name, r.third_party_id))
    return NoticeContent(
        year=year,
        customer_reference=customer_reference,
        categories=tuple(c.code for c in categories_of(union)),
        recipients=tuple(lines),
        exempt_affiliate_count=exempt,
        business=business,
        issued_on=issued_on,
        reference=reference,
    )


# --- the standard layout ---------------------------------------------------------------------------


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def layout(content: NoticeContent) -> list[tuple[str, object]]:
    """The notice as blocks: ("title"|"meta"|"h"|"p", text), ("ul", [text]), ("recipient", [lines]).

    Built from its three numbered sections, in the statute's order, after the heading.
    """
    return [
        *_heading_blocks(content),
        *_category_blocks(content),
        *_recipient_blocks(content),
        *_choice_blocks(content),
    ]


def _heading_blocks(content: NoticeContent) -> list[tuple[str, object]]:
    """Title, issuer and references, the voluntary-notice remark when the gate is off, the purpose."""
    b = content.business
    year = content.year
    blocks: list[tuple[str, object]] = [
        ("title", f"Your California Privacy Rights: Disclosures for Direct Marketing in {year}"),
        (
            "meta",
            f"Notice under California Civil Code §1798.83 · Issued {content.issued_on} by {b.name}, "
            f"{b.postal_address}"
            + (f" · Reference {content.reference}" if content.reference else "")
            + f" · Customer reference {content.customer_reference}",
        ),
    ]
    if not b.required:
        blocks.append(
            (
                "p",
                f"{b.name} had fewer than {rules.EMPLOYEE_THRESHOLD} employees, so §1798.83 does not require "
                "this notice (§1798.83(c)(1)). We provide it for your information.",
            )
        )
    blocks.append(
        (
            "p",
            f"This notice lists the categories of your personal information that {b.name} disclosed during "
            f"calendar year {year} to third parties for those third parties' own direct marketing purposes, "
            "and the names and addresses of those third parties (§1798.83(a)).",
        )
    )
    return blocks


def _category_blocks(content: NoticeContent) -> list[tuple[str, object]]:
    """Section 1: the statutory categories disclosed, or an explicit "None"."""
    blocks: list[tuple[str, object]] = [("h", "1. Categories of personal information disclosed")]
    if content.categories:
        blocks.append(("ul", [_cap(label) for label in content.category_labels]))
    else:
        blocks.append(
            (
                "p",
                f"None. During {content.year}, {content.business.name} did not disclose your personal "
                "information to third parties for their direct marketing purposes.",
            )
        )
    return blocks


def _recipient_blocks(content: NoticeContent) -> list[tuple[str, object]]:
    """Section 2: each recipient's name, address, business and categories; the exempt-affiliate count."""
    blocks: list[tuple[str, object]] = [("h", "2. Third parties that received it")]
    for r in content.recipients:
        lines = [r.name, r.postal_address, f"Nature of business: {r.nature_of_business}"]
        if r.product_examples:
            lines.append(f"Examples of products or services marketed: {r.product_examples}")
        lines.append("Categories received: " + "; ".join(BY_CODE[c].label for c in r.categories))
        if r.same_brand_affiliate:
            lines.append(
                "An affiliate sharing our brand name, listed because it received categories that "
                "§1798.83(f) requires us to report."
            )
        blocks.append(("recipient", lines))
    if not content.recipients:
        blocks.append(("p", "None."))
    if content.exempt_affiliate_count and content.business.show_same_brand_affiliate_count:
        n = content.exempt_affiliate_count
        blocks.append(
            (
                "p",
                f"In addition, {n} affiliate{'s' if n != 1 else ''} sharing our brand name received personal "
                "information for direct marketing only in categories that §1798.83(f) exempts from this notice.",
            )
        )
    return blocks


def _choice_blocks(content: NoticeContent) -> list[tuple[str, object]]:
    """Section 3: the opt-out route when offered, the once-a-year right, the designated channels."""
    b = content.business
    blocks: list[tuple[str, object]] = [("h", "3. Your choices and how to reach us")]
    if b.opt_out_route_enabled:
        blocks.append(
            (
                "p",
                "You may opt out, free of charge, of our disclosing your personal information to third parties "
                "for their direct marketing purposes by contacting us at the addresses below (§1798.83(c)(2)).",
            )
        )
    channels = []
    if b.designated_email:
        channels.append(f"Email: {b.designated_email}")
    if b.designated_phone:
        channels.append(f"Telephone: {b.designated_phone}")
    if b.designated_postal_address:
        channels.append(f"Mail: {b.designated_postal_address}")
    blocks.append(
        (
            "p",
            "You may ask for this notice once per calendar year, free of charge (§1798.83(c)(1)). Requests "
            "sent to the designated addresses below are answered within 30 days (§1798.83(b)(1)).",
        )
    )
    if channels:
        blocks.append(("ul", channels))
    return blocks


def render_text(content: NoticeContent) -> str:
    out: list[str] = []
    for kind, value in layout(content):
        if kind == "title":
            out += [str(value), "=" * len(str(value)), ""]
        elif kind == "meta":
            out += [str(value), ""]
        elif kind == "h":
            out += [str(value), "-" * len(str(value)), ""]
        elif kind == "p":
            out += [str(value), ""]
        elif kind == "ul":
            out += [f"  - {item}" for item in value] + [""]  # type: ignore[union-attr]
        elif kind == "recipient":
            lines = list(value)  # type: ignore[call-overload]
            out += [f"  * {lines[0]}"] + [f"    {line}" for line in lines[1:]] + [""]
    return "\n".join(out).rstrip() + "\n"


_CSS = (
    "body{font-family:Helvetica,Arial,sans-serif;max-width:42rem;margin:2rem auto;line-height:1.45;color:#111}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}.meta{color:#555;font-size:.85rem}"
    ".recipient{margin:.6rem 0 .6rem 1rem}.recipient p{margin:.1rem 0}"
)


def render_html_fragment(content: NoticeContent) -> str:
    e = html.escape
    out: list[str] = []
    for kind, value in layout(content):
        if kind == "title":
            out.append(f"<h1>{e(str(value))}</h1>")
        elif kind == "meta":
            out.append(f'<p class="meta">{e(str(value))}</p>')
        elif kind == "h":
            out.append(f"<h2>{e(str(value))}</h2>")
        elif kind == "p":
            out.append(f"<p>{e(str(value))}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in value) + "</ul>")  # type: ignore[union-attr]
        elif kind == "recipient":
            lines = list(value)  # type: ignore[call-overload]
            out.append(
                '<div class="recipient"><p><strong>'
                + e(lines[0])
                + "</strong></p>"
                + "".join(f"<p>{e(line)}</p>" for line in lines[1:])
                + "</div>"
            )
    return "\n".join(out)


def render_html(content: NoticeContent) -> str:
    title = html.escape(f"§1798.83 notice {content.year}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_CSS}</style></head>\n<body>\n"
        + render_html_fragment(content)
        + "\n</body></html>\n"
    )


def render_pdf(content: NoticeContent) -> bytes:
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import inch
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    meta = ParagraphStyle("meta", parent=styles["BodyText"], fontSize=8, textColor="#555555")
    bullet = ParagraphStyle("bullet", parent=styles["BodyText"], leftIndent=14, bulletIndent=4)
    indent = ParagraphStyle("indent", parent=styles["BodyText"], leftIndent=14, spaceBefore=0, spaceAfter=0)
    flow: list = []
    for kind, value in layout(content):
        if kind == "title":
            flow.append(Paragraph(xml_escape(str(value)), styles["Title"]))
        elif kind == "meta":
            flow.append(Paragraph(xml_escape(str(value)), meta))
        elif kind == "h":
            flow.append(Paragraph(xml_escape(str(value)), styles["Heading2"]))
        elif kind == "p":
            flow.append(Paragraph(xml_escape(str(value)), styles["BodyText"]))
        elif kind == "ul":
            flow += [Paragraph(xml_escape(i), bullet, bulletText="•") for i in value]  # type: ignore[union-attr]
        elif kind == "recipient":
            lines = list(value)  # type: ignore[call-overload]
            flow.append(Paragraph(f"<b>{xml_escape(lines[0])}</b>", bullet, bulletText="•"))
            flow += [Paragraph(xml_escape(line), indent) for line in lines[1:]]
            flow.append(Spacer(1, 4))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=inch,
        rightMargin=inch,
        topMargin=inch,
        bottomMargin=inch,
        title=f"§1798.83 notice {content.year}",
        author=content.business.name,
        invariant=1,  # no creation timestamp: the same notice renders to the same bytes
    )
    doc.build(flow)
    return buffer.getvalue()


RENDERERS = {"html": render_html, "txt": render_text, "pdf": render_pdf}
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "pdf": "application/pdf",
}


def render(content: NoticeContent, fmt: str) -> bytes:
    out = RENDERERS[fmt](content)
    return out if isinstance(out, bytes) else out.encode("utf-8")
