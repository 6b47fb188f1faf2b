// The state browser of a man_rl report: search by key, order, pages. Only the cards of the
// page shown are in the document (and only their pictures are loaded), so a memory of any
// number of states opens as fast as one page of them.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const root = document.documentElement;
  const list = document.getElementById("states");
  const search = document.getElementById("search");
  const order = document.getElementById("order");
  const pageSize = document.getElementById("page-size");
  const count = document.getElementById("match-count");
  const all = data.states;
  const labels = data.figure_labels;
  let shown = all;
  let page = 0;

  if (!data.has_figures) {
    order.querySelector('option[value="worst"]').remove();
  }
  order.value = data.has_figures ? "worst" : "key";

  function format(value) {
    if (value === null || value === undefined) return "\u2013";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3);
    return String(value);
  }

  function badge(figures) {
    const span = document.createElement("span");
    span.className = "badge";
    if (!figures) {
      span.classList.add("none");
      span.textContent = data.has_figures ? "not recalled" : "real only";
      return span;
    }
    const accuracy = figures.accuracy;
    span.classList.add(accuracy < 0.5 ? "bad" : accuracy < 0.9 ? "mid" : "good");
    span.textContent = "judge " + format(accuracy);
    return span;
  }

  function strip(src, caption, alt) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.className = "strip";
    img.src = src;
    img.alt = alt;
    img.decoding = "async";
    const text = document.createElement("figcaption");
    text.textContent = caption;
    figure.append(img, text);
    return figure;
  }

  function card(state) {
    const article = document.createElement("article");
    article.className = "state";
    article.dataset.key = state.k;
    const title = document.createElement("h3");
    if (state.kp) {
      const picture = document.createElement("img");
      picture.className = "key-picture";
      picture.src = state.kp;
      picture.alt = "cells of key " + state.d;
      title.append(picture);
    }
    const code = document.createElement("code");
    code.textContent = state.d;
    if (state.d !== state.k) code.title = state.k;
    title.append(code, badge(state.f));
    const counts = document.createElement("p");
    counts.className = "counts";
    counts.textContent = state.n + (state.n === 1 ? " frame" : " frames") + " held, " + state.s + " seen";
    const strips = document.createElement("div");
    strips.className = "strips";
    strips.append(strip(state.r, "real: " + state.rn + " of " + state.n, "real frames of " + state.k));
    if (state.g) {
      strips.append(strip(state.g, "recalled: " + state.gn + " samples", "recalled frames of " + state.k));
    }
    article.append(title, counts, strips);
    if (state.f) {
      const table = document.createElement("table");
      table.className = "figures";
      for (const name of Object.keys(labels)) {
        const row = table.insertRow();
        const th = document.createElement("th");
        th.textContent = labels[name];
        row.append(th);
        row.insertCell().textContent = format(state.f[name]);
      }
      article.append(table);
    }
    return article;
  }

  function sorted(states) {
    const copy = states.slice();
    if (order.value === "key") copy.sort((a, b) => a.o - b.o);
    else if (order.value === "most") copy.sort((a, b) => b.n - a.n || a.o - b.o);
    else if (order.value === "fewest") copy.sort((a, b) => a.n - b.n || a.o - b.o);
    return copy; // "worst": the order the report was written in
  }

  function filter() {
    const query = search.value.trim().toLowerCase();
    let states = sorted(all);
    if (query) {
      const named = (s) => [s.k.toLowerCase(), s.d.toLowerCase()];
      const exact = states.filter((s) => named(s).includes(query));
      const partial = states.filter((s) => !named(s).includes(query) && named(s).some((n) => n.includes(query)));
      states = exact.concat(partial);
    }
    shown = states;
  }

  function render() {
    const started = performance.now();
    const size = Number(pageSize.value);
    const pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(Math.max(0, page), pages - 1);
    const cards = shown.slice(page * size, (page + 1) * size).map(card);
    list.replaceChildren(...cards);
    count.textContent = shown.length === all.length
      ? all.length + " states"
      : shown.length + " of " + all.length + " states match";
    for (const label of document.querySelectorAll(".page-label")) {
      label.textContent = "page " + (page + 1) + " of " + pages;
    }
    for (const button of document.querySelectorAll(".pager button")) {
      const next = page + Number(button.dataset.step);
      button.disabled = next < 0 || next >= pages;
    }
    root.dataset.matches = String(shown.length);
    root.dataset.cards = String(cards.length);
    root.dataset.page = String(page + 1);
    root.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  function saveHash() {
    const params = new URLSearchParams();
    if (search.value.trim()) params.set("q", search.value.trim());
    if (order.value !== (data.has_figures ? "worst" : "key")) params.set("order", order.value);
    if (page) params.set("page", String(page + 1));
    if (pageSize.value !== String(data.page_size)) params.set("size", pageSize.value);
    const hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }

  function update(resetPage) {
    if (resetPage) page = 0;
    filter();
    render();
    saveHash();
  }

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const size = params.get("size") || String(data.page_size);
    if ([...pageSize.options].some((o) => o.value === size)) pageSize.value = size;
    const wanted = params.get("order");
    if (wanted && [...order.options].some((o) => o.value === wanted)) order.value = wanted;
    page = Math.max(0, (Number(params.get("page")) || 1) - 1);
    search.value = params.get("q") || "";
  }

  let opening = true; // the search of the page's address keeps its page number
  search.addEventListener("input", () => update(!opening));
  order.addEventListener("change", () => update(true));
  pageSize.addEventListener("change", () => update(true));
  for (const button of document.querySelectorAll(".pager button")) {
    button.addEventListener("click", () => {
      page += Number(button.dataset.step);
      render();
      saveHash();
    });
  }
  window.addEventListener("hashchange", () => {
    readHash();
    filter();
    render();
  });

  readHash();
  if (search.value) {
    search.dispatchEvent(new Event("input")); // the same path as typing
  } else {
    filter();
    render();
  }
  opening = false;

  window.addEventListener("load", () => {
    const images = [...list.querySelectorAll("img")];
    root.dataset.imagesShown = String(images.length);
    root.dataset.imagesDecoded = String(images.filter((i) => i.complete && i.naturalWidth > 0).length);
    root.dataset.readyMs = performance.now().toFixed(1);
  });
})();
