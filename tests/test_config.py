"""Configuration refuses unknown and invalid settings loudly."""

from __future__ import annotations

import pytest

from queue_system import ConfigError, QueueConfig, job, worker_settings


def test_reads_redis_url_and_prefixed_settings() -> None:
    config = QueueConfig.from_env(
        {"REDIS_URL": "redis://example:6380/2", "QS_MAX_PAYLOAD_BYTES": "2048", "QS_ENCRYPTION_KEYS": "a, b"}
    )
    assert config.redis_url == "redis://example:6380/2"
    assert config.max_payload_bytes == 2048
    assert config.encryption_keys == ("a", "b")


def test_unknown_setting_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="QS_MAX_PAYLOD_BYTES"):
        QueueConfig.from_env({"QS_MAX_PAYLOD_BYTES": "10"})


@pytest.mark.parametrize(
    "env",
    [{"QS_MAX_PAYLOAD_BYTES": "-1"}, {"REDIS_URL": "http://nope"}, {"QS_ENV": "staging"}, {"QS_PREFIX": "a b"}],
)
def test_invalid_values_are_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        QueueConfig.from_env(env)


def test_unknown_keyword_is_an_error() -> None:
    with pytest.raises(ConfigError):
        QueueConfig.build(redis_ulr="redis://x")


@job
async def plain(ctx: dict[str, object]) -> None:
    return None


@job(sensitive=True)
async def secret(ctx: dict[str, object]) -> None:
    return None


def test_worker_settings_refuse_bad_declarations() -> None:
    config = QueueConfig()
    with pytest.raises(ConfigError, match="at least one job"):
        worker_settings(jobs=[], config=config)
    with pytest.raises(ConfigError, match="not a job"):
        worker_settings(jobs=[print], config=config)  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="sensitive"):
        worker_settings(jobs=[secret], config=config)
    with pytest.raises(ConfigError, match="two jobs"):
        worker_settings(jobs=[plain, plain], config=config)
    with pytest.raises(TypeError):
        worker_settings(jobs=[plain], config=config, concurency=3)  # type: ignore[call-arg]


def test_job_declarations_are_validated() -> None:
    def not_async(ctx: object) -> None:
        return None

    with pytest.raises(ConfigError, match="not an async function"):
        job(not_async)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_tries"):
        job(max_tries=0)(plain.spec.function)
    with pytest.raises(ConfigError, match="queue"):
        job(queue="bad queue!")(plain.spec.function)
    with pytest.raises(ConfigError, match="exception type"):
        job(retry_on=(int,))(plain.spec.function)  # type: ignore[arg-type]
