"""The system owner's task page (signed link, no login): mark done, no data, or upload an export."""

from django import forms
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .manual import manual_task_answer, run_for_token
from .secrets import open_json


class AnswerForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("done", "Done"), ("no_data", "No data about this person"), ("upload", "Upload an export")],
        widget=forms.RadioSelect,
    )
    file = forms.FileField(required=False)


@require_http_methods(["GET", "POST"])
def manual_task(request, token: str):
    try:
        run = run_for_token(token)
    except ValidationError as exc:
        return render(request, "connectors/manual_task.html", {"problem": exc.messages[0]}, status=404)
    form = AnswerForm(request.POST or None, request.FILES or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        try:
            run = manual_task_answer(
                run_id=run.pk,
                outcome=form.cleaned_data["outcome"],
                actor=f"owner of {run.system.code}",
                file_name=upload.name if upload else "",
                file_bytes=upload.read() if upload else b"",
            )
        except ValidationError as exc:
            error = exc.messages[0]
    identities = open_json(run.identities) if run.status == "pending" else {}
    context = {"run": run, "form": form, "error": error, "identities": identities}
    return render(request, "connectors/manual_task.html", context)
