# One image for web, worker and beat.
FROM python:3.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# WeasyPrint renders PDFs with Pango and HarfBuzz.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, from the lock (exact versions, checked against their hashes; scripts/lock
# writes it from pyproject.toml): this layer is rebuilt only when the lock changes, not on every
# source change. The app is not installed as a package: it runs from /app.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

# .dockerignore keeps .env, .venv, .git, databases and media out of the image.
COPY . .
RUN DEBUG=false SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
       SIGNATURE_SEAL_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(40))')" \
       ALLOWED_HOSTS=build SITE_URL=https://build.invalid python manage.py collectstatic --no-input \
    && useradd --create-home --uid 1000 app && mkdir -p /app/media && chown app /app/media
USER app
EXPOSE 8000
# gunicorn.conf.py redacts secret link tokens from access and error logs.
CMD ["gunicorn", "crewcommand.wsgi:application", "-c", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "3"]
