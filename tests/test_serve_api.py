"""The HTTP API of `serve` through an in-process client over tiny runs of every task: the same numbers as
`load_run`, requests gathered into batches, every bad input's status and body, the API key, 429 and 504."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from pipeline import load_run
from pipeline.serving.app import ServeSettings, create_app
from pipeline.serving.registry import load_all

REVIEWS = [
    "A wonderful, moving film with superb actors.",
    "Boring and dreadful, a waste of time.",
    "The plot was okay but the acting was terrible.",
    "Brilliant! I loved it.",
]


@pytest.fixture(scope="module")
def loaded(served_runs: dict[str, Path]):
    paths = [served_runs[name] for name in ("tfidf", "transformer", "translator", "lm")]
    return load_all(paths, [str(served_runs["vectors"])])


def make_client(loaded, **settings) -> TestClient:
    models, vectors = loaded
    return TestClient(create_app(models, vectors, ServeSettings(**settings)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(loaded):
    with make_client(loaded) as test_client:
        yield test_client


def assert_error(response: httpx.Response, status: int, *fragments: str, field: str | None = "unset") -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "field"} and "\n" not in body["error"], body
    for fragment in fragments:
        assert fragment in body["error"], (fragment, body)
    if field != "unset":
        assert body["field"] == field, body
    return body


def test_health_readiness_and_the_model_list(client: TestClient, served_runs: dict[str, Path]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["models"] == [
        "lm-char",
        "tfidf",
        "transformer",
        "translator",
    ]
    listed = {entry["name"]: entry for entry in client.get("/v1/models").json()["models"]}
    assert {name: entry["task"] for name, entry in listed.items()} == {
        "lm-char": "language_model",
        "tfidf": "sentiment",
        "translator": "translation",
        "transformer": "sentiment",
    }
    metrics = json.loads((served_runs["tfidf"] / "metrics.json").read_text())
    assert listed["tfidf"]["metric"] == {"name": "accuracy", "value": metrics["accuracy"]}
    assert listed["tfidf"]["classes"] == ["negative", "positive"]
    assert listed["translator"]["transformer"] is True
    assert listed["translator"]["vocabulary_size"]["target"] > 10
    assert listed["lm-char"]["vocabulary_size"] > 10 and listed["lm-char"]["tokenizer"] == "char"
    vectors = client.get("/v1/models").json()["vectors"]
    assert vectors == [{"name": "tiny-vectors", "dim": 8, "vocabulary_size": 8}]


@pytest.mark.parametrize("name", ["tfidf", "transformer"])
def test_predict_gives_what_load_run_gives(
    client: TestClient, served_runs: dict[str, Path], name: str
) -> None:
    texts = [*REVIEWS, "   "]
    answer = client.post(f"/v1/models/{name}/predict", json={"texts": texts})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    expected = load_run(served_runs[name]).predict(texts)
    assert [r["label"] for r in results[:-1]] == list(expected["predicted_label"][:-1])
    np.testing.assert_allclose(
        [r["probability"] for r in results[:-1]], expected["probability"][:-1], rtol=0, atol=1e-5
    )
    assert results[-1] == {"label": None, "probability": None, "cut": False, "skipped_reason": "empty text"}
    strict = client.post(f"/v1/models/{name}/predict", json={"texts": REVIEWS[:1], "threshold": 0.999})
    assert strict.json()["results"][0]["label"] == "negative"


def test_over_long_texts_are_cut_and_say_so(loaded, served_runs: dict[str, Path]) -> None:
    models, _ = loaded
    limit = models["tfidf"].model.max_chars
    text = "wonderful " * (limit // 10 + 5)
    with make_client(loaded) as client:
        row = client.post("/v1/models/tfidf/predict", json={"texts": [text]}).json()["results"][0]
    assert row["cut"] is True and row["label"] == "positive" and row["skipped_reason"] == ""


def test_exact_explanations_of_a_linear_model_sum_to_its_logit(client: TestClient) -> None:
    text = "Wonderful film, superb actors; the plot was dull."
    row = client.post("/v1/models/tfidf/predict", json={"texts": [text], "explain": True}).json()["results"][
        0
    ]
    explanation = row["explanation"]
    assert explanation["method"] == "exact" and explanation["target"] == row["label"]
    assert explanation["tokens"][:3] == ["wonderful", "film", ","]
    p = row["probability"]
    logit = math.log(p / (1 - p))
    bias = float(client.app.state.server.models["tfidf"].model.model.get_layer("output").get_weights()[1][0])
    bias = bias if row["label"] == "positive" else -bias
    assert sum(explanation["contributions"]) == pytest.approx(logit - bias, abs=1e-4)
    by_token = dict(zip(explanation["tokens"], explanation["contributions"], strict=True))
    assert by_token["wonderful"] > 0 > by_token["dull"] if row["label"] == "positive" else True


def test_occlusion_explains_a_neural_model(client: TestClient, served_runs: dict[str, Path]) -> None:
    text = "the movie was brilliant and superb"
    row = client.post("/v1/models/transformer/predict", json={"texts": [text], "explain": True}).json()[
        "results"
    ][0]
    explanation = row["explanation"]
    assert explanation["method"] == "occlusion" and len(explanation["tokens"]) == 6
    classifier = load_run(served_runs["transformer"])
    label_id = classifier.classes.index(row["label"])
    without = classifier.predict_proba(["the movie was and superb"])[0, label_id]
    assert explanation["contributions"][3] == pytest.approx(row["probability"] - without, abs=1e-4)


def test_translate_gives_what_load_run_gives_with_attention(
    client: TestClient, served_runs: dict[str, Path]
) -> None:
    sentences = ["we are eating bread", "the cat drink water", "i see the dog"]
    translator = load_run(served_runs["translator"])
    for beam in (1, 2):
        answer = client.post(
            "/v1/models/translator/translate",
            json={"sentences": sentences, "beam": beam, "attention": beam == 1},
        )
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        expected = translator.translate(sentences, beam=beam, warn=False)
        assert [r["translation"] for r in results] == [e.text for e in expected]
        assert [r["log_prob"] for r in results] == pytest.approx([e.log_prob for e in expected], abs=1e-4)
        assert [r["unknown_tokens"] for r in results] == [e.unknown_tokens for e in expected]
        assert all(r["unknown_replaced"] == {} for r in results)  # every word is known here
    attention = results[0]["attention"] if "attention" in results[0] else None
    assert attention is None  # beam 2 did not ask for it
    first = client.post(
        "/v1/models/translator/translate", json={"sentences": sentences[:1], "attention": True}
    )
    attention = first.json()["results"][0]["attention"]
    weights = np.asarray(attention["weights"])
    layers, heads = attention["layers"], attention["heads"]
    assert weights.shape == (layers, heads, len(attention["output_tokens"]), len(attention["source_tokens"]))
    assert attention["source_tokens"] == ["we", "are", "eating", "bread", "<end>"]
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-3)


def test_generate_and_its_stream_give_what_load_run_gives(
    client: TestClient, served_runs: dict[str, Path]
) -> None:
    body = {"prompt": "the cat", "length": 30, "temperature": 0.8, "top_k": 5, "seed": 3}
    text = client.post("/v1/models/lm-char/generate", json=body).json()["text"]
    assert text == load_run(served_runs["lm"]).generate("the cat", 30, temperature=0.8, top_k=5, seed=3)
    with client.stream("POST", "/v1/models/lm-char/generate/stream", json=body) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        raw = "".join(response.iter_text())
    events = [block for block in raw.split("\n\n") if block.strip()]
    kinds = [block.splitlines()[0] for block in events]
    assert kinds == ["event: token"] * 30 + ["event: done"]
    pieces = [json.loads(block.splitlines()[1][len("data: ") :])["text"] for block in events]
    assert "".join(pieces[:-1]) == pieces[-1] == text


def test_word_stream_pieces_join_to_generate(served_runs: dict[str, Path], tmp_path: Path) -> None:
    """The held-back spaces of word-level text: pieces always join to exactly what generate returns."""
    from tests.conftest import invoke  # noqa: PLC0415
    from tests.test_pipeline_language_model import LINES, _write_lm_config  # noqa: PLC0415

    corpus = tmp_path / "docs.txt"
    corpus.write_text("\n".join(LINES * 60) + "\n", encoding="utf-8")
    config = _write_lm_config(tmp_path / "w.toml", corpus, "word", "gru", epochs="1")
    assert invoke("run", "--config", config, "--name", tmp_path / "w").exit_code == 0
    model = load_run(tmp_path / "w")
    for seed in range(4):
        pieces = list(model.stream("the cat", 25, seed=seed))
        assert len(pieces) == 25 and "".join(pieces) == model.generate("the cat", 25, seed=seed)


def test_vectors_neighbors_and_analogy(client: TestClient, served_runs: dict[str, Path]) -> None:
    from features.embeddings import load_vectors  # noqa: PLC0415

    kv = load_vectors(served_runs["vectors"])
    answer = client.post("/v1/vectors/tiny-vectors/neighbors", json={"word": "King", "topn": 3}).json()
    assert [n["word"] for n in answer["neighbors"]] == [w for w, _ in kv.most_similar("king", topn=3)]
    analogy = client.post(
        "/v1/vectors/tiny-vectors/analogy", json={"a": "man", "b": "king", "c": "woman"}
    ).json()
    expected = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)
    assert [a["word"] for a in analogy["answers"]] == [w for w, _ in expected]
    assert_error(
        client.post("/v1/vectors/tiny-vectors/analogy", json={"a": "man", "b": "zzz", "c": "woman"}),
        422,
        "unknown word 'zzz'",
        field="b",
    )


BAD_REQUESTS = [
    ("predict", b'{"texts": ["fine", }', 400, "malformed JSON", None),
    ("predict", b'{"texts": "one text"}', 422, "texts", "texts"),
    ("predict", b'{"texts": [1, 2]}', 422, "texts.0", "texts.0"),
    ("predict", b'{"text": ["x"]}', 422, "", None),
    ("predict", b'{"texts": []}', 422, "texts", "texts"),
    ("predict", b'{"texts": ["x"], "threshold": 1.5}', 422, "threshold", "threshold"),
    ("predict", b'{"texts": ["caf\xe9"]}', 400, "not UTF-8", None),
    ("predict", b"", 400, "malformed JSON", None),
    ("translate", b'{"sentences": ["we eat"], "beam": 0}', 422, "beam", "beam"),
    ("translate", b'{"sentences": ["we eat"], "beam": "4"}', 422, "beam", "beam"),
    ("generate", b'{"prompt": "the", "length": 0}', 422, "length", "length"),
    ("generate", b'{"prompt": "the", "length": 100000}', 422, "length", "length"),
    ("generate", b'{"prompt": "the", "temperature": 0}', 422, "temperature", "temperature"),
    ("generate", b'{"prompt": "the", "top_p": 0}', 422, "top_p", "top_p"),
]
MODEL_FOR = {"predict": "tfidf", "translate": "translator", "generate": "lm-char"}


@pytest.mark.parametrize(("endpoint", "body", "status", "fragment", "field"), BAD_REQUESTS)
def test_bad_input_gets_its_status_and_the_server_stays_up(
    client: TestClient, endpoint: str, body: bytes, status: int, fragment: str, field: str | None
) -> None:
    response = client.post(
        f"/v1/models/{MODEL_FOR[endpoint]}/{endpoint}",
        content=body,
        headers={"content-type": "application/json"},
    )
    error = assert_error(response, status, fragment)
    if field is not None:
        assert error["field"] == field
    assert client.get("/healthz").status_code == 200


def test_unknown_models_endpoints_and_tasks(client: TestClient) -> None:
    assert_error(
        client.post("/v1/models/nope/predict", json={"texts": ["x"]}),
        404,
        "no model named 'nope'",
        field="name",
    )
    assert_error(
        client.post("/v1/models/translator/predict", json={"texts": ["x"]}),
        422,
        "translation model",
        "/v1/models/translator/translate",
        field="name",
    )
    assert_error(
        client.post("/v1/vectors/nope/neighbors", json={"word": "x"}), 404, "no vectors named 'nope'"
    )
    assert_error(client.get("/v1/nothing"), 404, "no such endpoint")
    assert_error(
        client.post("/v1/models/lm-char/generate", json={"prompt": "\u4e2d\u6587"}),
        422,
        "unknown to this model",
    )


def test_request_and_body_limits(loaded) -> None:
    with make_client(loaded, max_texts=3, max_body_mb=0.01) as client:
        assert_error(
            client.post("/v1/models/tfidf/predict", json={"texts": ["a"] * 4}),
            413,
            "--max-texts 3",
            field="texts",
        )
        assert_error(
            client.post("/v1/models/tfidf/predict", json={"texts": ["a" * 20_000]}), 413, "--max-body-mb"
        )
        assert client.post("/v1/models/tfidf/predict", json={"texts": ["a"] * 3}).status_code == 200


def test_the_api_key_guards_v1_only(loaded) -> None:
    with make_client(loaded, api_key="s3cret") as client:
        assert_error(client.get("/v1/models"), 401, "API key", field="Authorization")
        wrong = {"Authorization": "Bearer nope"}
        assert_error(
            client.post("/v1/models/tfidf/predict", json={"texts": ["a"]}, headers=wrong), 401, "API key"
        )
        good = {"Authorization": "Bearer s3cret"}
        assert client.get("/v1/models", headers=good).status_code == 200
        assert client.post("/v1/models/tfidf/predict", json={"texts": ["a"]}, headers=good).status_code == 200
        for open_path in ("/healthz", "/readyz", "/", "/openapi.json", "/docs"):
            assert client.get(open_path).status_code == 200, open_path


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "cdn" not in page.lower() and "https://" not in page
    for asset in ("/static-docs/swagger-ui-bundle.js", "/static-docs/swagger-ui.css"):
        assert client.get(asset).status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/models/{name}/predict" in paths and "/v1/models/{name}/generate/stream" in paths


async def _concurrently(app, requests: list[tuple[str, dict]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*(client.post(path, json=body) for path, body in requests))


def test_concurrent_requests_are_batched_and_each_gets_its_own_results(loaded) -> None:
    models, vectors = loaded
    app = create_app(models, vectors, ServeSettings(max_wait_ms=200))
    texts = [f"{REVIEWS[i % 4]} {'really ' * (i % 5)}" for i in range(24)]
    requests = [("/v1/models/transformer/predict", {"texts": [text]}) for text in texts]
    requests += [("/v1/models/transformer/predict", {"texts": texts[:3], "explain": True})]
    responses = asyncio.run(_concurrently(app, requests))
    assert all(r.status_code == 200 for r in responses)
    expected = models["transformer"].model.predict(texts)
    for response, label, probability in zip(
        responses, expected["predicted_label"], expected["probability"], strict=False
    ):
        row = response.json()["results"][0]
        assert row["label"] == label and row["probability"] == pytest.approx(probability, abs=1e-5)
    assert len(responses[-1].json()["results"]) == 3 and "explanation" in responses[-1].json()["results"][0]
    batcher = app.state.server.batchers["transformer"]
    assert batcher.batches <= 3  # 24 single-text requests in one or two calls, the explain request in its own


def test_different_beams_form_different_batches(loaded) -> None:
    models, vectors = loaded
    app = create_app(models, vectors, ServeSettings(max_wait_ms=200))
    requests = [
        ("/v1/models/translator/translate", {"sentences": ["we are eating bread"], "beam": beam})
        for beam in (1, 2, 1, 2)
    ]
    responses = asyncio.run(_concurrently(app, requests))
    assert [r.status_code for r in responses] == [200] * 4
    assert app.state.server.batchers["translator"].batches == 2
    assert responses[0].json() == responses[2].json()


def test_a_full_queue_gets_429_and_a_slow_answer_504(loaded) -> None:
    models, vectors = loaded
    app = create_app(models, vectors, ServeSettings(max_queue=3, max_wait_ms=1500))
    first = ("/v1/models/tfidf/predict", {"texts": ["good", "bad", "fine"]})
    second = ("/v1/models/tfidf/predict", {"texts": ["one more"]})

    async def both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            waiting = asyncio.ensure_future(client.post(first[0], json=first[1]))
            await asyncio.sleep(0.2)
            refused = await client.post(second[0], json=second[1])
            return [await waiting, refused]

    accepted, refused = asyncio.run(both())
    assert accepted.status_code == 200
    assert_error(refused, 429, "--max-queue 3")
    slow = create_app(models, vectors, ServeSettings(timeout_s=0.05, max_wait_ms=1000))
    (timed_out,) = asyncio.run(_concurrently(slow, [first]))
    assert_error(timed_out, 504, "did not answer within 0.05 s")
