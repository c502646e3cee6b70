"""The sync client against a real ``needle serve`` (see conftest.py)."""

from __future__ import annotations

import gzip
import json
import time

import pytest

import needle
from needle import (
    Delete,
    Entity,
    Event,
    InvalidRequestError,
    Needle,
    NeedleConnectionError,
    NotFoundError,
    RetryPolicy,
    SearchRequest,
)

from .conftest import wait_for


@pytest.fixture
def client(server):
    with Needle(server.url) as c:
        yield c


def catalog(w: str) -> list:
    return [
        Entity(id=f"ar:{w}:adele", type="artist", name=f"Adele {w}", popularity=95),
        Entity(id=f"ar:{w}:lionel", type="artist", name=f"Lionel {w}", popularity=40),
        Entity(id=f"tr:{w}:hello1", type="track", name=f"Hello {w}", artist_ids=[f"ar:{w}:adele"], popularity=90),
        Entity(id=f"tr:{w}:hello2", type="track", name=f"Hello {w}", artist_ids=[f"ar:{w}:lionel"], popularity=30),
        {"id": f"tr:{w}:night", "type": "track", "name": f"All Night {w}", "artist_ids": [f"ar:{w}:lionel"]},
    ]


def has(res, entity_id: str) -> bool:
    return any(h.id == entity_id for h in res.hits)


def test_health_and_operations(client, server):
    assert client.live().status == "ok"
    assert client.ready() is True
    client.wait_ready(timeout=5)
    assert "needle_engine_up" in client.metrics()
    assert "/v1/search" in client.openapi()["paths"]


def test_write_get_search_typed(client, uid):
    report = client.write(catalog(uid))
    assert report.accepted == 5 and report.rejected == []
    entity = client.get_entity(f"tr:{uid}:hello1")
    assert isinstance(entity, Entity) and entity.artist_ids == [f"ar:{uid}:adele"]

    res = wait_for(lambda: has(r := client.search(f"hello {uid}", limit=5), f"tr:{uid}:hello2") and r)
    assert res, "written records became searchable"
    assert isinstance(res, needle.SearchResponse) and res.took_ms >= 0
    top = res.top_result
    assert top is not None and top.id == f"tr:{uid}:hello1", "the popular Hello wins unpersonalized"
    assert top.type == "track" and top.artists == [f"Adele {uid}"]
    hl = {h.field: h for h in top.highlights}
    assert "<em>Hello</em>" in hl["name"].snippet and hl["name"].spans[0] == (0, 5)
    # hits matching every word come first; the track section holds both Hellos on top
    section = res.sections[0]
    assert section.type == "track" and section.total >= 2
    assert {h.id for h in section.hits[:2]} == {f"tr:{uid}:hello1", f"tr:{uid}:hello2"}

    # prefix + typo, types filter, SearchRequest object
    res = client.search(SearchRequest(q=f"adel {uid[:6]}", types=["artist"], limit=3))
    assert [h.id for h in res.hits][:1] == [f"ar:{uid}:adele"]


def test_rejections_name_the_record(client, uid):
    report = client.write(
        [
            {"id": f"ar:{uid}:ok", "type": "artist", "name": "Fine"},
            {"id": f"ar:{uid}:bad", "type": "artist"},
            {"id": f"ar:{uid}:odd", "type": "artist", "name": "X", "colour": "red"},
        ]
    )
    assert report.accepted == 1
    assert [(r.index, r.code) for r in report.rejected] == [(1, "missing_field"), (2, "unknown_field")]


def test_errors_carry_server_code(client, uid):
    with pytest.raises(InvalidRequestError) as e:
        client.search("x", limit=500)
    err = e.value
    assert (err.code, err.type, err.status) == ("invalid_parameter", "invalid_request", 400)
    assert "limit" in err.message and err.request_id and err.link.endswith("#invalid_parameter")

    with pytest.raises(NotFoundError) as e:
        client.get_entity(f"nope:{uid}")
    assert e.value.code == "entity_not_found" and e.value.status == 404

    with pytest.raises(InvalidRequestError) as e:
        client.write([])
    assert e.value.code == "empty_batch"


def test_delete_entity_and_stats(client, uid):
    before = client.stats().entities
    client.write([Entity(id=f"ar:{uid}", type="artist", name=f"Gone {uid}")])
    assert client.stats().entities == before + 1
    assert client.delete_entity(f"ar:{uid}").deleted is True
    client.write([Delete(id=f"ar:{uid}")])  # deleting again through a batch is harmless
    assert client.stats().entities == before
    with pytest.raises(NotFoundError):
        client.delete_entity(f"ar:{uid}")


def test_upload_catalog_from_iterable_with_progress(client, uid):
    def records():
        for i in range(23):
            if i == 7:
                yield {"id": f"tr:{uid}:{i}", "type": "track"}  # no name
            else:
                yield Entity(id=f"tr:{uid}:{i}", type="track", name=f"Song {i} {uid}")

    seen = []
    summary = client.upload_catalog(records(), batch_size=5, progress=seen.append)
    assert (summary.batches, summary.sent, summary.accepted) == (5, 23, 22)
    assert [(r.index, r.code) for r in summary.rejected] == [(7, "missing_field")]
    assert [p.sent for p in seen] == [5, 10, 15, 20, 23] and seen[-1].rejected == 1
    assert wait_for(lambda: client.search(uid, types=["track"], limit=50).total == 22)


def test_upload_catalog_from_gzip_file(client, uid, tmp_path):
    path = tmp_path / "catalog.jsonl.gz"
    lines = [json.dumps({"id": f"ar:{uid}:{i}", "type": "artist", "name": f"Band {i} {uid}"}) for i in range(10)]
    lines[3] = ""  # blank lines count as lines
    lines[5] = "{not json"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    summary = client.upload_catalog(path, batch_size=4)
    assert summary.accepted == 8 and summary.sent == 9
    assert [(r.index, r.code) for r in summary.rejected] == [(5, "invalid_json")]
    plain = tmp_path / "more.jsonl"
    plain.write_text(json.dumps({"id": f"ar:{uid}:x", "type": "artist", "name": "X"}) + "\n")
    assert client.upload_catalog(str(plain)).accepted == 1


def test_events_profile_history_personalized_search_erase(client, uid):
    client.write(catalog(uid))
    user = f"user-{uid}"
    plays = [
        Event(user_id=user, type="play", item_id=f"tr:{uid}:night", ts=1_764_000_000_000 + i, event_id=f"{uid}-{i}")
        for i in range(5)
    ]
    report = client.send_events(plays)
    assert (report.accepted, report.duplicates) == (5, 0)
    assert client.send_events(plays[:2]).duplicates == 2, "event ids are deduplicated"

    profile = client.profile(user, top=5)
    assert profile.user_id == user and profile.events["play"] == 5
    assert profile.artists[0].id == f"ar:{uid}:lionel" and profile.artists[0].score > 0
    history = client.history(user, limit=3)
    assert len(history.events) == 3 and history.events[0].item_id == f"tr:{uid}:night"

    res = wait_for(lambda: has(r := client.search(f"hello {uid}", user_id=user), f"tr:{uid}:hello2") and r)
    top = res.top_result
    assert top.id == f"tr:{uid}:hello2", "the listener's artist beats the more popular Hello"
    assert top.personalization and top.personalization.boost > 0
    assert any(f"Lionel {uid}" in reason for reason in top.personalization.reasons)
    plain = client.search(f"hello {uid}")
    assert plain.top_result.id == f"tr:{uid}:hello1" and plain.top_result.personalization is None

    erased = client.delete_user(user)
    assert erased.deleted_events == 5
    with pytest.raises(NotFoundError) as e:
        client.profile(user)
    assert e.value.code == "user_not_found"


def test_upload_events_assigns_ids_and_maps_rejections(client, uid, tmp_path):
    user = f"listener-{uid}"
    path = tmp_path / "events.jsonl"
    rows = [{"user_id": user, "type": "play", "item_id": f"tr:{uid}:{i}", "ts": 1_764_000_000_000} for i in range(6)]
    rows[4]["type"] = "dance"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    progress = []
    summary = client.upload_events(path, batch_size=4, progress=progress.append)
    assert (summary.accepted, summary.duplicates, summary.batches) == (5, 0, 2)
    assert [r.index for r in summary.rejected] == [4] and len(progress) == 2
    assert client.history(user).events and client.profile(user).events["play"] == 5
    client.delete_user(user)


def test_api_key_is_accepted_by_an_open_server(server, uid):
    with Needle(server.url, api_key="dev-key-not-secret") as c:
        assert c.stats().entities >= 0


def test_connection_refused_raises_after_retries():
    slept = []
    with Needle("http://127.0.0.1:9", retry=RetryPolicy(max_retries=2), sleep=slept.append) as c:
        with pytest.raises(NeedleConnectionError):
            c.stats()
    assert len(slept) == 2


# Server schema (openapi.json) -> the SDK model that must carry every one of its fields.
MODELS = {
    "CatalogStats": needle.CatalogStats,
    "DeleteRecord": needle.Delete,
    "DeleteResponse": needle.DeleteResponse,
    "Entity": needle.Entity,
    "Event": needle.Event,
    "EventReport": needle.EventReport,
    "HealthStatus": needle.HealthStatus,
    "Highlight": needle.Highlight,
    "HistoryResponse": needle.History,
    "Hit": needle.Hit,
    "Explain": needle.Explain,
    "SearchesReport": needle.SearchesReport,
    "PositionStat": needle.PositionStat,
    "HourStat": needle.HourStat,
    "QueryStat": needle.QueryStat,
    "ItemReport": needle.ItemReport,
    "ItemQuery": needle.ItemQuery,
    "Personalization": needle.Personalization,
    "ProfileView": needle.Profile,
    "RecentEvent": needle.RecentEvent,
    "Rejection": needle.Rejection,
    "SearchResponse": needle.SearchResponse,
    "Section": needle.Section,
    "TopAffinity": needle.TopAffinity,
    "UserDeleted": needle.UserDeleted,
    "WriteReport": needle.WriteReport,
    "Recommendations": needle.Recommendations,
    "TokenResponse": needle.Token,
    "SessionInfo": needle.SessionInfo,
    "ModelInfo": needle.ModelInfo,
    "QualityReport": needle.QualityReport,
    "SurfaceQuality": needle.SurfaceQuality,
    "TrainAccepted": needle.TrainAccepted,
    "RecItem": needle.Recommendation,
    "Mix": needle.Mix,
    "SuggestResponse": needle.SuggestResponse,
    "Suggestion": needle.Suggestion,
    "SynonymsSetting": needle.Synonyms,
    "RulesSetting": needle.Rules,
}


def test_models_cover_the_servers_openapi_schemas(client):
    import dataclasses

    schemas = client.openapi()["components"]["schemas"]
    missing = {}
    for name, model in MODELS.items():
        props = set((schemas.get(name) or {}).get("properties", {}))
        fields = {f.name for f in dataclasses.fields(model)}
        if props - fields:
            missing[name] = sorted(props - fields)
    assert not missing, f"the server has fields the SDK models lack: {missing}"
    assert {"Hit", "SearchResponse", "Entity", "WriteReport", "SessionInfo", "ModelInfo", "TrainAccepted"} <= set(schemas)


def test_training_job_and_model_are_typed(client, trained):
    job = trained
    assert isinstance(job, needle.Job) and job.status == "done" and job.finished and job.progress == 1.0
    assert isinstance(job.model_version, int) and job.model_version >= 1 and job.error is None
    assert job.queued_at_ms <= job.started_at_ms <= job.finished_at_ms
    assert isinstance(job.stats, needle.TrainStats) and job.stats.listeners >= 12 and job.stats.trained_items >= 6
    assert client.job(job.job_id) == job
    listed = client.jobs()
    assert all(isinstance(j, needle.Job) for j in listed) and job.job_id in {j.job_id for j in listed}
    # Already done: one poll, no waiting.
    assert client.wait_for_job(job.job_id, timeout=0) == job

    model = client.model()
    assert isinstance(model, needle.ModelInfo) and model.model_version >= job.model_version
    assert model.trained_items >= 6 and model.index in ("exact", "hnsw") and model.factors and model.created_at_ms
    assert isinstance(model.stats, needle.TrainStats) and model.stats.interactions >= 36
    # Twelve listeners of three plays are too few to validate on: ALS alone, and it says so.
    assert isinstance(model.selection, needle.Selection) and "too few" in (model.selection.note or "")
    assert model.selection.als and model.selection.als["factors"] == model.factors

    with pytest.raises(NotFoundError) as e:
        client.job("train-999999")
    assert e.value.code == "job_not_found"


def test_recommendation_quality_and_discovery_are_typed(client, trained):
    q = client.recommendation_quality(sample=5, limit=5, discovery=0.5)
    assert isinstance(q, needle.QualityReport) and q.sample >= 1 and q.limit == 5 and q.discovery == 0.5
    assert {s.surface for s in q.surfaces} == {"for_you", "discover", "release_radar", "podcasts", "daily_mix"}
    assert all(isinstance(s, needle.SurfaceQuality) and 0.0 <= s.coverage <= 1.0 for s in q.surfaces)
    user = "sdk-u0"
    recs = client.recommendations(user, surface="discover", discovery=1.0)
    assert isinstance(recs, needle.Recommendations) and recs.surface == "discover"
    with pytest.raises(needle.InvalidRequestError) as e:
        client.recommendations(user, surface="for_you", discovery=0.5)
    assert e.value.code == "invalid_parameter" and "discovery" in str(e.value)


def test_incremental_training_refits_the_served_choice(client, trained):
    started = client.train(incremental=True)
    job = client.wait_for_job(started, timeout=120)
    assert job.kind == "train_incremental" and job.status == "done", job
    assert isinstance(job.stats.selection, needle.Selection)
    assert job.stats.selection.refitted_from is not None and job.stats.selection.refitted_from >= 1
    assert client.model().model_version == job.model_version


def test_recommendations_after_training(client, trained):
    recs = client.recommendations("sdk-u1", types=["artist"], limit=3)
    assert recs.surface == "for_you"
    assert recs.model_version >= trained.model_version
    assert 1 <= len(recs.items) <= 3
    played = {f"sdk-a{(1 + k) % 6}" for k in range(3)}
    assert all(i.id not in played for i in recs.items)
    assert all(i.reason for i in recs.items)


def test_similar_items(client, trained):
    res = client.similar("sdk-a0", limit=4)
    assert isinstance(res, needle.Recommendations) and res.model_version >= trained.model_version
    assert 1 <= len(res.items) <= 4
    assert all(isinstance(i, needle.Recommendation) for i in res.items)
    assert all(i.type == "artist" and i.id != "sdk-a0" for i in res.items)
    assert all(i.reason == "similar to SDK artist 0" for i in res.items), [i.reason for i in res.items]
    assert len({i.id for i in res.items}) == len(res.items)
    with pytest.raises(NotFoundError) as e:
        client.similar("sdk-nope")
    assert e.value.code == "item_not_found"
    with pytest.raises(InvalidRequestError):
        client.similar("sdk-a0", limit=0)


def test_continue_from_seeds(client, trained):
    seeds = ["sdk-a0", "sdk-a1"]
    res = client.continue_from(seeds, types=["artist"], limit=3)
    assert isinstance(res, needle.Recommendations)
    assert 1 <= len(res.items) <= 3 and not {i.id for i in res.items} & set(seeds)
    assert all(i.reason.startswith("goes well after ") for i in res.items), [i.reason for i in res.items]
    with pytest.raises(InvalidRequestError) as e:
        client.continue_from([])
    assert e.value.code == "invalid_parameter" and "seed_ids" in e.value.message
    with pytest.raises(TypeError):
        client.continue_from("sdk-a0")


def test_dj_session_start_next_feedback(client, trained):
    session = client.start_session("sdk-u2", types=["artist"])
    assert isinstance(session, needle.SessionInfo)
    assert session.user_id == "sdk-u2" and session.types == ["artist"] and session.session_id
    assert session.started_at_ms > 0
    first = client.session_next(session, limit=2)
    assert isinstance(first, needle.Recommendations) and 1 <= len(first.items) <= 2
    assert all(i.type == "artist" and i.reason for i in first.items)

    # A skip posted as feedback is counted for the session's listener.
    skipped = first.items[0].id
    report = client.session_feedback(session, skipped, "skip")
    assert isinstance(report, needle.EventReport) and report.accepted == 1 and report.duplicates == 0
    history = client.history("sdk-u2", limit=1).events[0]
    assert (history.type, history.item_id) == ("skip", skipped) and history.ts >= session.started_at_ms
    assert history.context == session.session_id

    # Nothing is served twice in a session; the session id works as a plain string too.
    second = client.session_next(session.session_id, limit=2)
    assert not {i.id for i in second.items} & {i.id for i in first.items}

    with pytest.raises(ValueError):
        client.session_feedback(session, skipped, "follow")
    with pytest.raises(NotFoundError) as e:
        client.session_next("s-does-not-exist")
    assert e.value.code == "session_not_found"


def test_search_ids_explain_clicks_and_analytics(client, uid):
    client.write(catalog(uid))
    res = wait_for(lambda: has(r := client.search(f"hello {uid}", limit=5, explain=True), f"tr:{uid}:hello2") and r)
    assert res and isinstance(res.search_id, str) and len(res.search_id) == 32
    top = res.hits[0]
    assert isinstance(top.explain, needle.Explain) and top.explain.click_boost == 0.0
    position = [h.id for h in res.hits].index(f"tr:{uid}:hello2") + 1
    click = {"type": "click", "search_id": res.search_id, "item_id": f"tr:{uid}:hello2", "position": position,
             "user_id": f"u:{uid}", "ts": int(time.time() * 1000), "event_id": f"c:{uid}"}
    report = client.send_events([click, click])
    assert (report.accepted, report.duplicates) == (1, 1)
    stats = client.search_analytics(limit=1000)
    assert isinstance(stats, needle.SearchesReport) and stats.searches >= 1 and stats.clicks >= 1
    assert any(q.normalized == f"hello {uid}" for q in stats.top_queries)
    item = client.item_analytics(f"tr:{uid}:hello2")
    assert isinstance(item, needle.ItemReport) and item.queries[0].listeners == 1
    assert item.queries[0].mean_click_position == float(position)


def test_suggest_and_curation(client, uid):
    client.write(catalog(uid))
    res = client.suggest(f"hello {uid}", limit=3)
    assert isinstance(res, needle.SuggestResponse) and res.suggestions
    first = res.suggestions[0]
    assert isinstance(first, needle.Suggestion) and first.kind == "entity" and first.id == f"tr:{uid}:hello1"
    with pytest.raises(InvalidRequestError) as e:
        client.suggest("a", limit=0)
    assert "limit" in str(e.value)

    word = f"zz{uid}"
    syn = client.set_synonyms([{"from": word, "to": [f"night {uid}"]}])
    assert isinstance(syn, needle.Synonyms) and syn.version >= 1 and syn.seq > 0
    assert client.synonyms().groups == [{"from": word, "to": [f"night {uid}"]}]
    assert wait_for(lambda: has(client.search(word), f"tr:{uid}:night"))
    rules = client.set_rules([{"query": f"hello {uid}", "hide": [f"tr:{uid}:hello1"]}])
    assert isinstance(rules, needle.Rules) and client.rules().version == rules.version
    assert not has(client.search(f"hello {uid}"), f"tr:{uid}:hello1")
    with pytest.raises(InvalidRequestError) as e:
        client.set_rules([{"query": "x", "pin": [{"id": "a", "position": 0}]}])
    assert "rules[0].pin[0].position" in str(e.value)
    client.set_synonyms([])
    client.set_rules([])
