// invoice-import web pages: drag and drop, the errors-only filter, live progress (server-sent events).
// Plain JavaScript served by the application itself: no library, nothing from the internet.
"use strict";

function setupDrop() {
  var zone = document.getElementById("drop-zone");
  var input = document.getElementById("upload-file");
  var shown = document.getElementById("drop-name");
  if (!zone || !input) return;
  function show() {
    shown.textContent = input.files && input.files.length ? "Selected: " + input.files[0].name : "";
  }
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      show();
    }
  });
}

function setupErrorsOnly() {
  var box = document.getElementById("errors-only");
  var grid = document.getElementById("review");
  if (!box || !grid) return;
  box.addEventListener("change", function () {
    if (box.dataset.paged === "1") {  // more rows than one page: ask the server for the filtered pages
      window.location.search = box.checked ? box.dataset.hrefOn : box.dataset.hrefOff;
      return;
    }
    grid.classList.toggle("errors-only", box.checked);
    var url = new URL(window.location.href);
    url.searchParams.set("errors", box.checked ? "1" : "0");
    window.history.replaceState(null, "", url.toString());
  });
}

function setupEvents() {
  var job = document.getElementById("job");
  if (!job || !window.EventSource) return;
  var progress = document.getElementById("progress");
  var source = new EventSource(job.dataset.events);
  source.onmessage = function (event) {
    var s = JSON.parse(event.data);
    var message = document.getElementById("job-message");
    if (message) message.textContent = s.message || "";
    if (progress && s.total !== undefined) {
      progress.dataset.done = s.done;
      progress.dataset.total = s.total;
      progress.dataset.state = s.state;
      var bar = document.getElementById("progress-bar");
      bar.max = s.total || 1;
      bar.value = s.done;
      var text = document.getElementById("progress-text");
      text.replaceChildren();
      var done = document.createElement("strong"); done.textContent = s.done;
      var total = document.createElement("strong"); total.textContent = s.total;
      text.append(done, " of ", total, " invoices");
      document.getElementById("progress-rate").textContent = s.rate ? s.rate + " per second" : "";
      document.getElementById("progress-left").textContent = s.left && s.state === "running" ? "about " + s.left + " left" : "";
    }
    if (s.state === "done" || s.state === "failed" || s.state === "none") {
      source.close();
      if (job.dataset.doneHref) window.location.assign(job.dataset.doneHref);
      else window.location.reload();
    }
  };
}

document.addEventListener("DOMContentLoaded", function () {
  setupDrop();
  setupErrorsOnly();
  setupEvents();
});
