// Cite and Share buttons (paper pages, public collections). Without JavaScript, Cite is a link to the
// BibTeX file and Share a link to the page; with it, they copy to the clipboard (or open the system
// share sheet). No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  function say(anchor, text) {
    var box = anchor.parentNode && anchor.parentNode.querySelector("[data-copied]");
    if (box) { box.textContent = text; }
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function citeBox(link) {
    var box = document.getElementById("cite-box");
    if (box) { box.hidden = !box.hidden; return; }
    box = document.createElement("div");
    box.id = "cite-box";
    box.className = "cite-box";
    var pre = document.createElement("pre");
    pre.className = "bibtex";
    pre.textContent = "Loading BibTeX…";
    var bib = document.createElement("button");
    bib.type = "button";
    bib.className = "button small";
    bib.textContent = "Copy BibTeX";
    var ref = document.createElement("button");
    ref.type = "button";
    ref.className = "button small ghost";
    ref.textContent = "Copy reference";
    box.appendChild(bib);
    box.appendChild(ref);
    box.appendChild(pre);
    link.parentNode.parentNode.insertBefore(box, link.parentNode.nextSibling);
    var loaded = fetch(link.getAttribute("data-cite"), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (text) { pre.textContent = text; return text; });
    loaded.catch(function () { pre.textContent = "The BibTeX entry could not be loaded."; });
    bib.addEventListener("click", function () {
      loaded.then(copy).then(function () { say(link, "BibTeX copied"); }, function () { say(link, "Copy failed: select the text above"); });
    });
    ref.addEventListener("click", function () {
      copy(link.getAttribute("data-reference") || "").then(function () { say(link, "Reference copied"); },
        function () { say(link, "Copy failed"); });
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var link = target && target.closest ? target.closest("a[data-cite], a[data-share]") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    if (link.hasAttribute("data-cite")) { citeBox(link); return; }
    var url = new URL(link.getAttribute("data-share"), window.location.href).href;
    if (navigator.share) {
      navigator.share({ title: link.getAttribute("data-title") || document.title, url: url })
        .catch(function () { /* dismissed */ });
      return;
    }
    copy(url).then(function () { say(link, "Link copied"); }, function () { say(link, "Copy failed: " + url); });
  });
})();
