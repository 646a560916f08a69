"""Guards on the project as a whole: migrations, deploy checks, settings defaults."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def _run_manage(args, env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "SECRET_"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_under_production_settings():
    result = _run_manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "x" * 30 + "a-long-random-production-key-0123456789",
            "ALLOWED_HOSTS": "annotate.example.org",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/affect_studio",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        },
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = _run_manage(["check"], {"DJANGO_SETTINGS_MODULE": "config.settings.production"})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_development_defaults_need_no_configuration(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.dev'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL,"
        " s.CACHES['default']['BACKEND'].rsplit('.', 1)[1], os.environ['HF_HUB_OFFLINE'])"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "DATABASE_", "CELERY_", "SECRET_", "DEBUG", "HF_", "TRANSFORMERS_", "CACHE_", "BROKER_")
        )
    }
    env["BROKER_DIR"] = str(tmp_path / "broker")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    # No external services: a real worker meets the web server in a folder,
    # and both share a file cache (live progress); nothing runs inside requests.
    assert result.stdout.split() == ["django.db.backends.sqlite3", "False", "filesystem://", "FileBasedCache", "1"], (
        result.stderr
    )
    assert (tmp_path / "broker" / "messages").is_dir()


def test_each_kind_of_job_has_its_own_queue():
    from config.celery import app

    router = app.amqp.Router()
    queues = {
        name: router.route({}, name)["queue"].name
        for name in ("annotator.run_import_job", "inference.train_model", "inference.predict_items")
    }
    assert queues == {
        "annotator.run_import_job": "imports",
        "inference.train_model": "training",
        "inference.predict_items": "predictions",
    }


def test_compose_runs_the_production_shape():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert any(v.startswith("media:") for v in services[name]["volumes"])
        # all-mpnet-base-v2 is unpacked once onto the models volume, not into a container's home at every start.
        assert env["PACKAGED_MODEL_DIR"].startswith(env["MODEL_DIR"] + "/")
        assert any(v == f"models:{env['MODEL_DIR']}" for v in services[name]["volumes"])
    assert "gunicorn" in services["web"]["command"] and "celery" in services["worker"]["command"]
    # A worker per class of queue: long training never holds an import's slot.
    queues = {
        name: svc["command"][svc["command"].index("--queues") + 1]
        for name, svc in services.items()
        if "--queues" in svc.get("command", [])
    }
    assert queues == {"worker": "imports,predictions,celery", "worker-training": "training"}
    assert "beat" in services["beat"]["command"]
    assert {"pgdata", "media"} <= set(compose["volumes"])
    dockerfile = ROOT / services["web"]["build"]["dockerfile"]
    assert "requirements.txt" in dockerfile.read_text()


def test_readme_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].startswith("make demo") and block[1].startswith("make test")
    assert "make test" in (ROOT / ".ci" / "run").read_text()
