"""Paging large tables without counting them on every page (admin changelists and the API)."""

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

from .selectors import table_row_count


class EstimatedCountPaginator(Paginator):
    """Unfiltered lists of big tables count with PostgreSQL's estimate, not `COUNT(*)`.

    A page of a list is cheap; counting tens of millions of activity events on every page load is a
    full scan. Filtered lists (by subject, search, ...) count exactly, through their index.
    """

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and not qs.query.where:
            found = table_row_count(qs.model)
            if found.estimated:
                return found.value
        return super().count


class InventoryPagination(PageNumberPagination):
    django_paginator_class = EstimatedCountPaginator
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
