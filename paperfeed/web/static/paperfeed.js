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
})();
