"""The process pool that renders certificates and builds their emails beside a worker (``cpu_pool``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobs.certificates.cpu_pool import CpuPool, FontSource, RenderPoolBroken, produce_certificate
from jobs.certificates.fonts import UnsupportedText, find_font, load_font
from jobs.certificates.verify import check_certificate

from .helpers import certificate_content


@pytest.fixture
async def pool(jobs_data_dir: Path) -> AsyncIterator[CpuPool]:
    load_font(find_font(), jobs_data_dir / "cache")  # the worker prepares the font before the pool starts
    cpu = CpuPool(2, FontSource(None, jobs_data_dir / "cache"))
    yield cpu
    await asyncio.to_thread(cpu.close)


async def test_certificates_are_rendered_checked_and_written_by_the_pool(pool: CpuPool, tmp_path: Path) -> None:
    names = ["Nguyễn Thị Hồng", "Ахмед", "Siti Nurhaliza", "Ζωή Παπαδοπούλου"]
    results = await asyncio.gather(
        *(
            pool.run(produce_certificate, certificate_content(name), tmp_path, f"event-1/{i}.pdf")
            for i, name in enumerate(names)
        )
    )
    for index, (name, (digest, size)) in enumerate(zip(names, results, strict=True)):
        pdf = (tmp_path / f"event-1/{index}.pdf").read_bytes()
        assert len(pdf) == size and len(digest) == 64
        check_certificate(pdf, expected_name=name)


async def test_calls_made_while_the_processes_are_busy_share_hand_offs_and_keep_their_own_answers(
    pool: CpuPool, tmp_path: Path
) -> None:
    names = ["Siti Nurhaliza", "Ахмед", "王小明", "Nguyễn Thị Hồng"] * 4  # the third of each four cannot be written
    results = await asyncio.gather(
        *(
            pool.run(produce_certificate, certificate_content(name), tmp_path, f"event-1/{i}.pdf")
            for i, name in enumerate(names)
        ),
        return_exceptions=True,
    )
    assert pool.batches < len(names)
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        if name == "王小明":
            assert isinstance(result, UnsupportedText) and "王小明" in str(result)
            assert not (tmp_path / f"event-1/{index}.pdf").exists()
        else:
            assert isinstance(result, tuple), result
            check_certificate((tmp_path / f"event-1/{index}.pdf").read_bytes(), expected_name=name)


async def test_an_error_in_a_pool_process_reaches_the_job_as_itself(pool: CpuPool, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedText, match="王小明"):
        await pool.run(produce_certificate, certificate_content("王小明"), tmp_path, "event-1/x.pdf")


async def test_a_dead_pool_process_fails_one_job_and_the_pool_is_replaced(pool: CpuPool, tmp_path: Path) -> None:
    await pool.run(produce_certificate, certificate_content("Siti Nurhaliza"), tmp_path, "event-1/a.pdf")
    with pytest.raises(RenderPoolBroken):
        await pool.run(os._exit, 1)  # a render process dies, as if killed
    await pool.run(produce_certificate, certificate_content("Ахмед"), tmp_path, "event-1/b.pdf")
    check_certificate((tmp_path / "event-1/b.pdf").read_bytes(), expected_name="Ахмед")


async def test_calls_still_waiting_when_the_pool_closes_fail_instead_of_hanging(pool: CpuPool, tmp_path: Path) -> None:
    content = certificate_content("Siti Nurhaliza")
    calls = [asyncio.ensure_future(pool.run(produce_certificate, content, tmp_path, f"e/{i}.pdf")) for i in range(40)]
    await asyncio.sleep(0.05)  # the first batches are handed over, the rest wait for a free process
    await asyncio.to_thread(pool.close)
    answers = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), timeout=60)
    assert all(isinstance(answer, tuple | RenderPoolBroken) for answer in answers), answers
    assert any(isinstance(answer, RenderPoolBroken) for answer in answers)
