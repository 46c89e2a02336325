// Paperfeed progressive enhancement: every feature works without this file.
(function () {
  "use strict";
  // Theme toggle: switch instantly and remember the choice in a cookie (the server renders it next time).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("theme-form")) {
      event.preventDefault();
      var root = document.documentElement;
      var current = root.getAttribute("data-theme") ||
        (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
      var next = current === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      document.cookie = "theme=" + next + "; path=/; max-age=31536000; samesite=lax";
      try { localStorage.setItem("theme", next); } catch (e) { /* private mode */ }
      return;
    }
    // Upvote without reloading the page; on any failure fall back to the normal form post.
    if (form.hasAttribute && form.hasAttribute("data-vote") && window.fetch && window.FormData) {
      event.preventDefault();
      var data = new FormData(form);
      // getAttribute: the form has an input named "action", which shadows the form.action property
      fetch(form.getAttribute("action"), { method: "POST", body: data, headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          if (r.redirected || !r.ok) { throw new Error("fallback"); }
          return r.json();
        })
        .then(function (body) {
          var button = form.querySelector("button");
          form.querySelector("[data-count]").textContent = body.upvotes;
          form.querySelector("input[name=action]").value = body.voted ? "down" : "up";
          button.classList.toggle("voted", body.voted);
          button.setAttribute("aria-pressed", body.voted ? "true" : "false");
          button.title = body.voted ? "Remove your upvote" : "Upvote";
          var spoken = button.querySelector(".sr-only");
          if (spoken) { spoken.textContent = body.voted ? " upvotes, you upvoted" : " upvotes"; }
        })
        .catch(function () { form.submit(); });
    }
  });
  // "/" focuses the search box, as on most sites with search (not while typing in a field).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target, tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) { return; }
    var box = document.getElementById("q") || document.getElementById("site-q");
    if (box) { event.preventDefault(); box.focus(); box.select(); }
  });

  // Suggestions as you type: search boxes marked data-suggest become a WAI-ARIA 1.2 combobox with a listbox
  // popup (list autocomplete, manual selection). Arrow keys move through the suggestions (the input keeps
  // focus; aria-activedescendant names the active one), Enter opens it (or submits the search when none is
  // active), Escape closes the list (or clears the box), a live region says how many there are. Without
  // this file the box is a plain search field of a plain form.
  var KINDS = { paper: "paper", author: "author", query: "search" };
  function combobox(input) {
    var listId = input.id + "-suggestions";
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Search suggestions");
    list.hidden = true;
    var live = document.createElement("div");
    live.className = "sr-only";
    live.setAttribute("role", "status");
    live.setAttribute("aria-live", "polite");
    live.setAttribute("aria-atomic", "true");
    input.parentNode.classList.add("combo");
    input.insertAdjacentElement("afterend", list);
    list.insertAdjacentElement("afterend", live);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");
    var items = [], active = -1, timer = null, pending = null, shownFor = null;

    function expand(open) {
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
      if (!open) { activate(-1); }
    }
    function activate(i) {
      var options = list.children;
      if (active >= 0 && options[active]) { options[active].setAttribute("aria-selected", "false"); }
      active = i;
      if (i >= 0 && options[i]) {
        options[i].setAttribute("aria-selected", "true");
        input.setAttribute("aria-activedescendant", options[i].id);
        if (options[i].scrollIntoView) { options[i].scrollIntoView({ block: "nearest" }); }
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function render(data, q) {
      items = data;
      shownFor = q;
      active = -1;
      input.removeAttribute("aria-activedescendant");
      list.textContent = "";
      data.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.className = "suggestion";
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        var text = document.createElement("span");
        text.className = "text";
        text.textContent = s.text;
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = KINDS[s.type] || s.type;
        var comma = document.createElement("span");
        comma.className = "sr-only";
        comma.textContent = ", ";  // heard as "Matryoshka Representation Learning, paper"
        li.appendChild(text);
        li.appendChild(comma);
        li.appendChild(kind);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep the focus in the box
        li.addEventListener("click", function () { choose(i); });
        list.appendChild(li);
      });
      var n = data.length;
      live.textContent = n ? n + (n === 1 ? " suggestion" : " suggestions") + ", use the up and down arrow keys" :
        (q.trim() ? "No suggestions" : "");
      expand(n > 0 && document.activeElement === input);
    }
    function choose(i) {
      var s = items[i];
      if (s && s.url.charAt(0) === "/") { expand(false); window.location.assign(s.url); }
    }
    function load() {
      var q = input.value;
      if (q === shownFor) { expand(items.length > 0); return; }
      if (!q.trim()) { render([], q); return; }
      if (pending) { pending.abort(); }
      pending = window.AbortController ? new AbortController() : null;
      var url = "/api/v1/suggest?" + new URLSearchParams({ q: q, limit: "8" }).toString();
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", signal: pending ? pending.signal : undefined })
        .then(function (r) { if (!r.ok) { throw new Error("suggest " + r.status); } return r.json(); })
        .then(function (body) { if (input.value === q) { render(body.data || [], q); } })
        .catch(function () { /* aborted, offline or refused: the plain search form still works */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(load, 120);
    });
    input.addEventListener("keydown", function (e) {
      if (e.isComposing) { return; }
      var open = !list.hidden;
      if (e.key === "ArrowDown" || e.key === "Down") {
        e.preventDefault();
        if (!open) { load(); if (e.altKey) { return; } }
        if (items.length) { expand(true); activate(active + 1 < items.length ? active + 1 : 0); }
      } else if (e.key === "ArrowUp" || e.key === "Up") {
        if (!open || !items.length) { return; }
        e.preventDefault();
        activate(active > 0 ? active - 1 : items.length - 1);
      } else if (e.key === "Enter") {
        if (open && active >= 0) { e.preventDefault(); choose(active); }  // else: the form submits the search
      } else if (e.key === "Escape" || e.key === "Esc") {
        if (open) { e.preventDefault(); expand(false); }
        else if (input.value) { e.preventDefault(); input.value = ""; render([], ""); }
      }
    });
    input.addEventListener("blur", function () { expand(false); });
    input.addEventListener("focus", function () { if (input.value && input.value === shownFor && items.length) { expand(true); } });
  }
  if (window.fetch && window.URLSearchParams && document.querySelectorAll) {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest]"), combobox);
  }
})();
