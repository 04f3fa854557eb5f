from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


def sandbox_config():
    """The sandbox's configuration from the SANDBOX_* settings (the sandbox itself reads no settings)."""
    from cards.sandbox import SandboxConfig, SandboxLimits

    return SandboxConfig(
        root=Path(settings.SANDBOX_ROOT),
        uid_base=settings.SANDBOX_UID_BASE,
        uid_count=settings.SANDBOX_UID_COUNT,
        lock_dir=Path(settings.SANDBOX_LOCK_DIR),
        cgroup_parent=settings.SANDBOX_CGROUP_PARENT,
        limits=SandboxLimits(
            memory_mb=settings.SANDBOX_MEMORY_MB,
            cpu_seconds=settings.SANDBOX_CPU_SECONDS,
            wall_seconds=settings.SANDBOX_WALL_SECONDS,
            output_bytes=settings.SANDBOX_OUTPUT_BYTES,
            tmp_mb=settings.SANDBOX_TMP_MB,
        ),
    )


class ChallengesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cards.challenges"
    label = "challenges"
    verbose_name = "Live code challenges"

    def ready(self) -> None:
        # Every process that may run the sandbox (worker, `manage.py grade`, `sandbox_run`) loads the app
        # first; the web loads it too but never runs the sandbox (import contracts in pyproject.toml).
        from cards.sandbox import configure

        configure(sandbox_config())
