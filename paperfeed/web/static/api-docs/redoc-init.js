// Starts ReDoc on /redoc (an external file, so the page needs no inline script under its CSP).
(function () {
  var el = document.getElementById("redoc");
  Redoc.init(el.getAttribute("data-openapi-url"), { hideDownloadButton: false }, el);
})();
