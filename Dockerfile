FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=1 python manage.py collectstatic --noinput
RUN useradd --create-home app && mkdir -p /app/media /var/lib/privacyops/erasure-journal \
    && chown -R app /app/media /var/lib/privacyops
USER app
EXPOSE 8000
CMD ["gunicorn", "privacyops.wsgi:application", "--bind", "0.0.0.0:8000"]
