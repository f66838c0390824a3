"""Officers look people up by email address: a search-box mixin shared by every list of a subject's rows."""

from inventory.selectors import subject_search


class SubjectEmailSearchMixin:
    """Search box: an email address (case and surrounding spaces ignored) finds that subject's rows;
    anything else goes to the admin's own `search_fields` (public ids, references).

    `subject_lookup` names the foreign key to DataSubject on the listed model.
    """

    subject_lookup = "subject"
    search_help_text = "An email address (case and spaces ignored) or a public id."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term:
            return queryset.filter(**{f"{self.subject_lookup}__in": subject_search(term)}), False
        return super().get_search_results(request, queryset, term)
