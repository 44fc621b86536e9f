// The page served at `/`: one panel per served model, talking to the JSON API in docs/serving.md.
// Plain JavaScript, no build step, nothing fetched from outside this server.
"use strict";

(() => {
  // The API key (when the server asks for one) lives in this variable only: never in storage or cookies.
  let apiKey = null;
  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;
  const TASK_ORDER = ["sentiment", "translation", "language_model"];

  class ApiError extends Error {
    constructor(message, status = 0, field = null) {
      super(message);
      this.status = status;
      this.field = field;
    }
  }

  // ---- DOM helpers ---------------------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
    return node;
  }

  // A labelled control: <label for=id>text</label> + the control itself, wrapped in a span.field.
  function field(labelText, control, extraClass = "") {
    if (!control.id) control.id = nextId("f");
    return el(
      "span",
      { class: `field ${extraClass}`.trim() },
      el("label", { for: control.id, text: labelText }),
      control,
    );
  }

  function formatNumber(value, digits = 3) {
    return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : String(value);
  }

  function setError(errorLine, message) {
    errorLine.textContent = message || "";
    errorLine.hidden = !message;
  }

  // ---- API -----------------------------------------------------------------------------------------

  async function errorFrom(response) {
    const text = await response.text().catch(() => "");
    let message = "";
    let fieldName = null;
    try {
      const body = JSON.parse(text);
      message = body.error ?? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body));
      fieldName = body.field ?? null;
    } catch {
      message = text.trim().slice(0, 300);
    }
    if (!message) message = response.statusText || "request failed";
    const where = fieldName ? ` (field: ${fieldName})` : "";
    return new ApiError(`Error ${response.status}: ${message}${where}`, response.status, fieldName);
  }

  // fetch + the API key + errors turned into ApiError (401 also brings up the key field).
  async function request(method, path, body, signal) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(`Network error: could not reach the server (${err && err.message ? err.message : err})`);
    }
    if (response.status === 401) askForKey();
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async function api(method, path, body) {
    const response = await request(method, path, body);
    try {
      return await response.json();
    } catch {
      throw new ApiError(`Error: the server's answer to ${path} is not JSON`, response.status);
    }
  }

  const modelPath = (name, action) => `/v1/models/${encodeURIComponent(name)}/${action}`;
  const vectorsPath = (name, action) => `/v1/vectors/${encodeURIComponent(name)}/${action}`;

  // ---- API key -------------------------------------------------------------------------------------

  const keyForm = document.getElementById("key-form");
  const keyInput = document.getElementById("api-key");
  const keyStatus = document.getElementById("key-status");

  function askForKey() {
    const wasHidden = keyForm.hidden;
    keyForm.hidden = false;
    keyStatus.textContent = apiKey
      ? "The server refused this key: enter another one."
      : "This server needs an API key (kept in this tab only).";
    if (wasHidden) keyInput.focus();
  }

  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) return;
    apiKey = key;
    keyInput.value = "";
    keyStatus.textContent = "Key set for this tab.";
    if (!document.querySelector("#panels .panel")) loadModels();
  });

  // ---- panels --------------------------------------------------------------------------------------

  // The section, its heading and its error line; `run` wraps a panel action (busy state + errors).
  function makePanel(name, task, meta) {
    const headingId = nextId("h");
    const section = el(
      "section",
      { class: "panel", "data-model": name, "data-task": task, "aria-labelledby": headingId },
      el("h2", { id: headingId }, el("span", { class: "name", text: name }), el("span", { class: "meta", text: meta })),
    );
    const error = el("p", { class: "error", role: "alert", hidden: true });
    async function run(button, action) {
      setError(error, "");
      button.disabled = true;
      section.setAttribute("aria-busy", "true");
      section.dataset.state = "running";
      try {
        await action();
        section.dataset.state = "done";
      } catch (err) {
        section.dataset.state = "error";
        setError(error, err && err.message ? err.message : String(err));
      } finally {
        button.disabled = false;
        section.removeAttribute("aria-busy");
      }
    }
    return { section, error, run };
  }

  function modelMeta(model) {
    const parts = [model.kind, model.task];
    const metric = model.metric || {};
    if (metric.name && typeof metric.value === "number") parts.push(`${metric.name} ${formatNumber(metric.value)}`);
    return parts.filter(Boolean).join(" · ");
  }

  function form(onSubmit, ...children) {
    return el(
      "form",
      {
        class: "controls",
        onsubmit: (event) => {
          event.preventDefault();
          onSubmit(event);
        },
      },
      ...children,
    );
  }

  // ---- sentiment -----------------------------------------------------------------------------------

  function sentimentPanel(model) {
    const { section, error, run } = makePanel(model.name, model.task, modelMeta(model));
    const input = el("textarea", { class: "input", rows: 4, placeholder: "Type a review…" });
    const button = el("button", { type: "submit", class: "run", text: "Classify" });
    const label = el("span", { class: "label" });
    const probability = el("span", { class: "probability" });
    const fill = el("span", { class: "bar-fill" });
    const bar = el("span", { class: "bar", role: "meter", "aria-valuemin": 0, "aria-valuemax": 100 }, fill);
    const probabilities = el("p", { class: "probabilities note" });
    const note = el("p", { class: "note how" });
    const tokens = el("p", { class: "tokens" });
    const result = el(
      "div",
      { class: "result", hidden: true },
      el("p", { class: "verdict" }, label, bar, probability),
      probabilities,
      note,
      tokens,
    );

    const submit = () =>
      run(button, async () => {
        const text = input.value;
        const data = await api("POST", modelPath(model.name, "predict"), { texts: [text], explain: true });
        const answer = data.results && data.results[0];
        if (!answer || answer.label === null || answer.label === undefined) {
          result.hidden = true;
          throw new ApiError(
            answer && answer.skipped_reason ? `Not classified: ${answer.skipped_reason}` : "Not classified",
          );
        }
        label.textContent = answer.label;
        label.dataset.label = answer.label;
        const percent = Math.round(100 * (answer.probability ?? 0));
        probability.textContent = `${formatNumber(answer.probability)} (${percent}%)`;
        fill.style.width = `${percent}%`;
        bar.setAttribute("aria-valuenow", percent);
        bar.setAttribute("aria-label", `probability of ${answer.label}`);
        const others = Object.entries(answer.probabilities || {}).map(([name, p]) => `${name} ${formatNumber(p)}`);
        probabilities.textContent = others.length ? `All classes: ${others.join(" · ")}` : "";
        probabilities.hidden = !others.length;
        renderExplanation(tokens, note, text, answer);
        result.hidden = false;
      });

    section.append(
      form(submit, field("Review", input, "wide"), el("span", { class: "actions" }, button)),
      error,
      result,
    );
    return section;
  }

  function renderExplanation(container, note, text, answer) {
    container.replaceChildren();
    const explanation = answer.explanation;
    const cut = answer.cut ? " The text was cut to the model's maximum length." : "";
    if (!explanation || !Array.isArray(explanation.tokens)) {
      note.textContent = `No token contributions in the answer.${cut}`;
      return;
    }
    const how =
      explanation.method === "exact"
        ? "each token's share of the label's logit"
        : "the drop in the label's probability when the token is removed";
    note.textContent =
      `Green pushes toward “${explanation.target ?? answer.label}”, red against; ` +
      `shade by |contribution| (${explanation.method}: ${how}). Hover a token for its value.${cut}`;
    const contributions = explanation.contributions || [];
    const max = contributions.reduce((m, c) => Math.max(m, Math.abs(c || 0)), 0) || 1;
    const spans = explanation.tokens.map((token, i) => tokenSpan(String(token), contributions[i] || 0, max));
    // Shade the text itself when the tokens can be found in it in order, else show the tokens.
    const lower = text.toLowerCase();
    const pieces = [];
    let position = 0;
    let aligned = lower.length === text.length;
    for (const span of spans) {
      if (!aligned) break;
      const token = span.textContent.toLowerCase();
      const at = token ? lower.indexOf(token, position) : -1;
      if (at < 0) {
        aligned = false;
        break;
      }
      pieces.push(text.slice(position, at));
      span.textContent = text.slice(at, at + token.length);
      pieces.push(span);
      position = at + token.length;
    }
    if (aligned) {
      pieces.push(text.slice(position));
      container.append(...pieces);
    } else {
      explanation.tokens.forEach((token, i) => {
        spans[i].textContent = String(token);
        container.append(spans[i], " ");
      });
    }
  }

  function tokenSpan(token, contribution, max) {
    const strength = Math.abs(contribution) / max;
    const sign = contribution > 0 ? "positive" : contribution < 0 ? "negative" : "zero";
    const span = el("span", {
      class: `token ${sign}`,
      title: `${contribution >= 0 ? "+" : ""}${formatNumber(contribution, 4)}`,
      "data-contribution": contribution,
      text: token,
    });
    if (sign !== "zero") {
      const rgb = sign === "positive" ? "22, 163, 74" : "220, 38, 38";
      span.style.backgroundColor = `rgba(${rgb}, ${(0.08 + 0.72 * strength).toFixed(3)})`;
    }
    return span;
  }

  // ---- translation ---------------------------------------------------------------------------------

  function translationPanel(model) {
    const { section, error, run } = makePanel(model.name, model.task, modelMeta(model));
    const input = el("input", { class: "input", type: "text", placeholder: "A sentence to translate" });
    const beam = el(
      "select",
      { class: "beam" },
      ...[1, 2, 4, 8].map((b) => el("option", { value: b, text: String(b) })),
    );
    const button = el("button", { type: "submit", class: "run", text: "Translate" });
    const output = el("p", { class: "output" });
    const note = el("p", { class: "note" });
    const layer = el("select", { class: "layer" });
    const head = el("select", { class: "head" });
    const picker = el("p", { class: "picker controls", hidden: true }, field("Layer", layer), field("Head", head));
    const hover = el("p", { class: "hover-info note", "aria-live": "polite" });
    const map = el("div", { class: "heatmap-wrap" });
    const attentionBox = el("div", { class: "attention", hidden: true }, picker, map, hover);
    const result = el("div", { class: "result", hidden: true }, output, note, attentionBox);
    let attention = null;

    const redraw = () => {
      if (!attention) return;
      const matrix = attentionMatrix(attention.weights, Number(layer.value), head.value);
      map.replaceChildren(heatmap(attention.source_tokens || [], attention.output_tokens || [], matrix, hover));
    };
    layer.addEventListener("change", redraw);
    head.addEventListener("change", redraw);

    const submit = () =>
      run(button, async () => {
        const body = { sentences: [input.value], beam: Number(beam.value), attention: true };
        const data = await api("POST", modelPath(model.name, "translate"), body);
        const answer = data.results && data.results[0];
        if (!answer || answer.skipped_reason || answer.translation === null || answer.translation === undefined) {
          result.hidden = true;
          throw new ApiError(
            answer && answer.skipped_reason ? `Not translated: ${answer.skipped_reason}` : "Not translated",
          );
        }
        output.textContent = answer.translation;
        const notes = [];
        if (typeof answer.log_prob === "number") notes.push(`log-probability ${formatNumber(answer.log_prob)}`);
        if (answer.truncated) notes.push("stopped at the maximum output length");
        if (answer.cut) notes.push("the sentence was cut to the model's maximum length");
        attention = answer.attention && Array.isArray(answer.attention.weights) ? answer.attention : null;
        if (!attention) notes.push("this model has no attention map");
        note.textContent = notes.join(" · ");
        attentionBox.hidden = !attention;
        if (attention) {
          const layered = isLayered(attention.weights);
          picker.hidden = !layered;
          if (layered) fillPicker(layer, head, attention);
          hover.textContent = "Hover a cell to see which output word attends to which source word.";
          redraw();
        }
        result.hidden = false;
      });

    section.append(
      form(submit, field("Sentence", input, "wide"), field("Beam", beam), el("span", { class: "actions" }, button)),
      error,
      result,
    );
    return section;
  }

  const isLayered = (weights) => Array.isArray(weights?.[0]?.[0]?.[0]);

  // Layer/head options for a Transformer's [layer][head][output][source] weights (keeps the choice).
  function fillPicker(layer, head, attention) {
    const layers = attention.layers ?? attention.weights.length;
    const heads = attention.heads ?? attention.weights[0].length;
    const keepLayer = layer.value;
    const keepHead = head.value;
    layer.replaceChildren(
      ...Array.from({ length: layers }, (_, i) => el("option", { value: i, text: `${i + 1} of ${layers}` })),
    );
    head.replaceChildren(
      el("option", { value: "mean", text: "mean of heads" }),
      ...Array.from({ length: heads }, (_, i) => el("option", { value: i, text: `${i + 1} of ${heads}` })),
    );
    layer.value = keepLayer !== "" && Number(keepLayer) < layers ? keepLayer : String(layers - 1);
    head.value = keepHead !== "" && (keepHead === "mean" || Number(keepHead) < heads) ? keepHead : "mean";
  }

  // [output][source] weights: as given (recurrent models), or one layer's head / mean of heads.
  function attentionMatrix(weights, layer, head) {
    if (!isLayered(weights)) return weights;
    const heads = weights[Math.min(layer, weights.length - 1)];
    if (head !== "mean") return heads[Number(head)];
    return heads[0].map((row, o) => row.map((_, s) => heads.reduce((sum, h) => sum + h[o][s], 0) / heads.length));
  }

  function heatmap(sourceTokens, outputTokens, matrix, hover) {
    const max = matrix.reduce((m, row) => row.reduce((n, w) => Math.max(n, w), m), 0) || 1;
    const columns = sourceTokens.map((token, s) =>
      el("th", { scope: "col", class: "src", "data-src": s }, el("span", { text: token })),
    );
    const table = el(
      "table",
      { class: "heatmap", "data-rows": matrix.length, "data-cols": sourceTokens.length },
      el("caption", { text: "Attention: output words (rows) over source words (columns)" }),
      el("thead", {}, el("tr", {}, el("th", { class: "corner", scope: "col", text: "output ↓ source →" }), ...columns)),
    );
    const body = el("tbody");
    matrix.forEach((row, o) => {
      const outToken = String(outputTokens[o] ?? "");
      const cells = sourceTokens.map((srcToken, s) => {
        const weight = row[s] ?? 0;
        const cell = el("td", {
          class: "cell",
          "data-out": o,
          "data-src": s,
          "data-weight": weight,
          title: `${outToken} ← ${srcToken}: ${formatNumber(weight)}`,
        });
        const alpha = Math.max(0, Math.min(1, weight / max));
        cell.style.backgroundColor = `rgba(37, 99, 235, ${alpha.toFixed(3)})`;
        return cell;
      });
      body.append(el("tr", {}, el("th", { scope: "row", class: "out", "data-out": o, text: outToken }), ...cells));
    });
    table.append(body);

    const clear = () => table.querySelectorAll(".hl").forEach((node) => node.classList.remove("hl"));
    table.addEventListener("mouseover", (event) => {
      const cell = event.target.closest("td.cell");
      if (!cell) return;
      clear();
      const { out, src } = cell.dataset;
      cell.classList.add("hl");
      table
        .querySelectorAll(`th.src[data-src="${src}"], th.out[data-out="${out}"]`)
        .forEach((node) => node.classList.add("hl"));
      hover.textContent = `“${outputTokens[out] ?? ""}” ← “${sourceTokens[src] ?? ""}”: ${formatNumber(Number(cell.dataset.weight))}`;
    });
    table.addEventListener("mouseleave", clear);
    return table;
  }

  // ---- language model ------------------------------------------------------------------------------

  function languageModelPanel(model) {
    const { section, error, run } = makePanel(model.name, model.task, modelMeta(model));
    const input = el("textarea", { class: "input", rows: 2, placeholder: "A prompt (may be empty)" });
    const temperature = el("input", { class: "temperature", type: "number", min: 0.05, max: 5, step: 0.05, value: 1 });
    const topK = el("input", { class: "top-k", type: "number", min: 0, step: 1, value: 0, title: "0 = off" });
    const length = el("input", { class: "length", type: "number", min: 1, max: 2000, step: 1, value: 200 });
    const button = el("button", { type: "submit", class: "run", text: "Generate" });
    const stop = el("button", { type: "button", class: "stop", text: "Stop", disabled: true });
    const prompt = el("span", { class: "prompt" });
    const generated = el("span", { class: "generated" });
    const output = el("pre", { class: "output", "data-tokens": 0, "aria-live": "polite" }, prompt, generated);
    let controller = null;
    stop.addEventListener("click", () => controller && controller.abort());

    const submit = () =>
      run(button, async () => {
        const body = {
          prompt: input.value,
          length: Number(length.value),
          temperature: Number(temperature.value),
          top_k: Number(topK.value),
        };
        prompt.textContent = input.value;
        generated.textContent = "";
        output.dataset.tokens = "0";
        output.dataset.state = "streaming";
        controller = new AbortController();
        stop.disabled = false;
        try {
          const response = await request("POST", modelPath(model.name, "generate/stream"), body, controller.signal);
          let count = 0;
          const finished = await readEvents(response, (event, data) => {
            if (event === "token") {
              generated.append(data.text ?? "");
              output.dataset.tokens = String(++count);
              output.scrollTop = output.scrollHeight;
            } else if (event === "error") {
              throw new ApiError(`Error: ${data.error ?? "generation failed"}`);
            }
          });
          if (!finished) throw new ApiError("Error: the stream ended before its 'done' event");
          output.dataset.state = "done";
        } catch (err) {
          if (err && err.name === "AbortError") {
            output.dataset.state = "stopped";
            return;
          }
          output.dataset.state = "error";
          throw err;
        } finally {
          stop.disabled = true;
          controller = null;
        }
      });

    section.append(
      form(
        submit,
        field("Prompt", input, "wide"),
        field("Temperature", temperature),
        field("Top-k (0 = off)", topK),
        field("Length", length),
        el("span", { class: "actions" }, button, stop),
      ),
      error,
      output,
    );
    return section;
  }

  // Server-sent events from a fetch response: calls onEvent(name, parsedData) per event; resolves
  // true once `event: done` arrived, false when the stream ended without it.
  async function readEvents(response, onEvent) {
    if (!response.body) throw new ApiError("Error: this browser cannot read a streamed answer");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let name = "";
    let data = [];
    let done = false;
    const dispatch = () => {
      if (!name && !data.length) return;
      const event = name || "message";
      const text = data.join("\n");
      name = "";
      data = [];
      let parsed = {};
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = { text };
        }
      }
      if (event === "done") done = true;
      onEvent(event, parsed);
    };
    const line = (raw) => {
      const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (text === "") return dispatch();
      if (text.startsWith(":")) return;
      const colon = text.indexOf(":");
      const key = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (key === "event") name = value;
      else if (key === "data") data.push(value);
    };
    try {
      while (!done) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        buffer += decoder.decode(value, { stream: true });
        let newline;
        while (!done && (newline = buffer.indexOf("\n")) >= 0) {
          line(buffer.slice(0, newline));
          buffer = buffer.slice(newline + 1);
        }
      }
      if (!done) {
        buffer += decoder.decode();
        if (buffer) line(buffer);
        dispatch();
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    return done;
  }

  // ---- vectors -------------------------------------------------------------------------------------

  function vectorsPanel(vectors) {
    const meta = [
      vectors.dim && `${vectors.dim}-d`,
      vectors.vocabulary_size && `${vectors.vocabulary_size} words`,
      "vectors",
    ];
    const { section, error, run } = makePanel(vectors.name, "vectors", meta.filter(Boolean).join(" · "));
    const word = el("input", { class: "input word", type: "text", placeholder: "king" });
    const topn = el("input", { class: "topn", type: "number", min: 1, max: 100, value: 10 });
    const button = el("button", { type: "submit", class: "run", text: "Neighbours" });
    const neighbors = el("ol", { class: "output neighbors" });
    const a = el("input", { class: "a", type: "text", placeholder: "man" });
    const b = el("input", { class: "b", type: "text", placeholder: "king" });
    const c = el("input", { class: "c", type: "text", placeholder: "woman" });
    const solve = el("button", { type: "submit", class: "run-analogy", text: "Solve" });
    const answers = el("ol", { class: "answers" });
    const list = (target, items) =>
      target.replaceChildren(
        ...items.map((item) =>
          el(
            "li",
            {},
            el("span", { class: "word", text: item.word }),
            " ",
            el("span", { class: "similarity", text: formatNumber(item.similarity) }),
          ),
        ),
      );

    const neighbours = () =>
      run(button, async () => {
        const data = await api("POST", vectorsPath(vectors.name, "neighbors"), {
          word: word.value.trim(),
          topn: Number(topn.value),
        });
        list(neighbors, data.neighbors || []);
      });
    const analogy = () =>
      run(solve, async () => {
        const data = await api("POST", vectorsPath(vectors.name, "analogy"), {
          a: a.value.trim(),
          b: b.value.trim(),
          c: c.value.trim(),
          topn: 5,
        });
        list(answers, data.answers || []);
      });

    section.append(
      el("h3", { text: "Nearest neighbours" }),
      form(neighbours, field("Word", word, "wide"), field("How many", topn), el("span", { class: "actions" }, button)),
      neighbors,
      el("h3", { text: "Analogy: a : b = c : ?" }),
      el(
        "div",
        { class: "analogy" },
        form(
          analogy,
          field("a", a),
          el("span", { class: "sep", text: ":" }),
          field("b", b),
          el("span", { class: "sep", text: "=" }),
          field("c", c),
          el("span", { class: "sep", text: ": ?" }),
          el("span", { class: "actions" }, solve),
        ),
      ),
      answers,
      error,
    );
    return section;
  }

  function otherPanel(model) {
    const { section } = makePanel(model.name, model.task, modelMeta(model));
    section.append(
      el(
        "p",
        { class: "note" },
        `This page has no controls for the task “${model.task}”; see `,
        el("a", { href: "/docs", text: "/docs" }),
        ".",
      ),
    );
    return section;
  }

  // ---- page ----------------------------------------------------------------------------------------

  const panels = document.getElementById("panels");
  const pageStatus = document.getElementById("page-status");
  const pageError = document.getElementById("page-error");

  async function loadModels() {
    pageStatus.textContent = "Loading the models…";
    setError(pageError, "");
    let data;
    try {
      data = await api("GET", "/v1/models");
    } catch (err) {
      pageStatus.textContent = err.status === 401 ? "Enter the API key above to load the models." : "";
      setError(pageError, `Could not load the models. ${err.message}`);
      return;
    }
    const models = [...(data.models || [])].sort((x, y) => rank(x.task) - rank(y.task));
    const builders = { sentiment: sentimentPanel, translation: translationPanel, language_model: languageModelPanel };
    const sections = models.map((model) => (builders[model.task] || otherPanel)(model));
    sections.push(...(data.vectors || []).map(vectorsPanel));
    panels.replaceChildren(...sections);
    const counts = [`${models.length} model${models.length === 1 ? "" : "s"}`];
    if ((data.vectors || []).length)
      counts.push(`${data.vectors.length} vector set${data.vectors.length === 1 ? "" : "s"}`);
    pageStatus.textContent = sections.length ? `Serving ${counts.join(" and ")}.` : "This server serves no models.";
    document.body.dataset.ready = "true";
  }

  function rank(task) {
    const index = TASK_ORDER.indexOf(task);
    return index < 0 ? TASK_ORDER.length : index;
  }

  loadModels();
})();
