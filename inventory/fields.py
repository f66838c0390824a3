"""Field types the registry understands."""

from django.db import models


class EncryptedTextField(models.TextField):
    """Holds a value sealed with the owning subject's data key (AES-256-GCM, see inventory.crypto).

    The field stores ciphertext only; services seal on write and selectors open on read, because the
    key depends on the row's subject and must never be cached across requests in a model instance.
    """

    description = "Ciphertext under the subject's data key"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)
