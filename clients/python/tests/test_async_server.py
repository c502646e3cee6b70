"""The async client against the real server (asyncio.run: no pytest plugin needed)."""

from __future__ import annotations

import asyncio

import pytest

from needle import AsyncNeedle, Entity, Event, InvalidRequestError, NotFoundError


def run(coro):
    return asyncio.run(coro)


def test_async_end_to_end(server, uid):
    async def main():
        async with AsyncNeedle(server.url) as c:
            assert await c.ready()
            report = await c.write(
                [
                    Entity(id=f"ar:{uid}", type="artist", name=f"Mötley {uid}", popularity=10),
                    Entity(id=f"tr:{uid}", type="track", name=f"Kickstart {uid}", artist_ids=[f"ar:{uid}"]),
                ]
            )
            assert report.accepted == 2
            for _ in range(100):
                res = await c.search(f"motley {uid}")
                if res.total:
                    break
                await asyncio.sleep(0.05)
            assert res.top_result and res.top_result.id == f"ar:{uid}"
            assert "<em>Mötley</em>" in res.top_result.highlights[0].snippet

            # concurrent searches on one client
            many = await asyncio.gather(*(c.search(f"{uid} kick") for _ in range(8)))
            assert all(r.top_result and r.top_result.id == f"tr:{uid}" for r in many)

            with pytest.raises(InvalidRequestError) as e:
                await c.search("x", types=["song"])
            assert e.value.code == "invalid_parameter"
            with pytest.raises(NotFoundError):
                await c.get_entity(f"missing:{uid}")
            assert (await c.get_entity(f"tr:{uid}")).artist_ids == [f"ar:{uid}"]

    run(main())


def test_async_uploads_from_async_iterables(server, uid):
    async def records():
        for i in range(12):
            yield {"id": f"al:{uid}:{i}", "type": "album", "name": f"Record {i} {uid}"}
            await asyncio.sleep(0)

    async def events():
        for i in range(7):
            yield Event(user_id=f"u-{uid}", type="save", item_id=f"al:{uid}:{i}", ts="2025-11-20T10:00:00Z")

    async def main():
        async with AsyncNeedle(server.url) as c:
            seen = []
            summary = await c.upload_catalog(records(), batch_size=5, progress=seen.append)
            assert (summary.batches, summary.accepted) == (3, 12) and len(seen) == 3
            summary = await c.upload_events(events(), batch_size=3)
            assert (summary.accepted, summary.batches) == (7, 3)
            profile = await c.profile(f"u-{uid}")
            assert profile.events["save"] == 7 and len(profile.saved) == 7
            history = await c.history(f"u-{uid}", limit=2)
            assert [e.type for e in history.events] == ["save", "save"]
            assert (await c.delete_user(f"u-{uid}")).deleted_events == 7
            assert "needle_" in await c.metrics()

    run(main())


def test_async_recommendation_methods(server, trained):
    import needle

    async def main():
        async with AsyncNeedle(server.url) as c:
            job = await c.job(trained.job_id)
            assert isinstance(job, needle.Job) and job == trained
            assert await c.wait_for_job(trained, timeout=0) == trained
            assert trained.job_id in {j.job_id for j in await c.jobs()}
            model = await c.model()
            assert isinstance(model, needle.ModelInfo) and model.model_version >= trained.model_version

            similar, cont = await asyncio.gather(
                c.similar("sdk-a3", limit=3), c.continue_from(["sdk-a3"], types=["artist"], limit=3)
            )
            assert similar.items and all(i.id != "sdk-a3" and i.reason for i in similar.items)
            assert cont.items and all(i.id != "sdk-a3" and i.reason.startswith("goes well after") for i in cont.items)

            session = await c.start_session("sdk-u5", types=["artist"], explicit=True)
            assert isinstance(session, needle.SessionInfo) and session.user_id == "sdk-u5"
            first = await c.session_next(session, limit=1)
            assert len(first.items) == 1
            report = await c.session_feedback(session, first.items[0].id, "play", ms_played=30_000)
            assert report.accepted == 1
            second = await c.session_next(session, limit=2)
            assert first.items[0].id not in {i.id for i in second.items}

    run(main())
