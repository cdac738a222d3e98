// The owner's upload page: each chosen video is sent with tus-js-client (resumable: a
// dropped connection, or a closed and reopened page, continues where it stopped), one file
// after the other, with a progress bar, then the receipt the server made for it. Without
// JavaScript (or without tus) the form posts as a plain multipart form.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || typeof tus === "undefined" || !tus.isSupported) return;
  var endpoint = form.getAttribute("data-endpoint");
  var progress = document.getElementById("progress");

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (ch) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch];
    });
  }
  function size(n) {
    var units = ["bytes", "KB", "MB", "GB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i < 2 ? Math.round(n) : n.toFixed(1)) + " " + units[i];
  }

  function row(file) {
    var li = document.createElement("li");
    li.innerHTML = "<strong>" + esc(file.name) + "</strong> (" + size(file.size) + ")" +
      "<progress max='100' value='0' aria-label='" + esc(file.name) + "'></progress>" +
      "<span class='state'>waiting</span>";
    return li;
  }

  function send(file, li, fields) {
    var bar = li.querySelector("progress"), state = li.querySelector(".state");
    return new Promise(function (resolve) {
      var upload = new tus.Upload(file, {
        endpoint: endpoint,
        chunkSize: 50 * 1024 * 1024,
        retryDelays: [0, 1000, 2000, 5000, 10000, 20000, 30000, 60000, 60000, 60000],
        removeFingerprintOnSuccess: true,
        metadata: {filename: file.name, filetype: file.type || "", sender: fields.sender,
                   start: fields.start},
        onProgress: function (sent, total) {
          bar.value = total ? Math.floor(100 * sent / total) : 0;
          state.textContent = size(sent) + " of " + size(total);
        },
        onShouldRetry: function (err, attempt) {
          state.textContent = "connection lost: trying again (" + (attempt + 1) + ")";
          var status = err.originalResponse ? err.originalResponse.getStatus() : 0;
          return !(status >= 400 && status < 500 && status !== 409 && status !== 423);
        },
        onError: function (err) {
          var status = err.originalResponse ? err.originalResponse.getStatus() : 0;
          var body = err.originalResponse ? err.originalResponse.getBody() : "";
          state.textContent = status === 413 ? body : "Not sent: the connection failed. " +
            "Press Send again to continue where it stopped.";
          li.className = "r-refused";
          resolve(null);
        },
        onSuccess: function () {
          state.textContent = "received; checking it";
          fetch(upload.url, {headers: {"Accept": "application/json"}, credentials: "omit"})
            .then(function (r) { return r.json(); })
            .then(function (data) {
              var f = data.receipt;
              if (!f) { state.textContent = "received"; return resolve(null); }
              li.className = "r-" + f.result;
              state.innerHTML = esc(f.message) + "<br><small>" + size(f.size_bytes) +
                " &middot; received " + esc(f.received_local || f.received_at) +
                (f.sha256 ? "<br>SHA-256 <code>" + esc(f.sha256) + "</code>" : "") + "</small>";
              resolve(f);
            })
            .catch(function () { state.textContent = "received"; resolve(null); });
        }
      });
      upload.findPreviousUploads().then(function (previous) {
        if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
        upload.start();
      });
    });
  }

  form.addEventListener("submit", function (event) {
    var files = Array.prototype.slice.call(document.getElementById("file").files);
    if (!files.length) return;
    event.preventDefault();
    var fields = {sender: document.getElementById("sender").value,
                  start: document.getElementById("start").value};
    var list = document.createElement("ul");
    list.className = "receipt";
    list.id = "upload-list";
    var items = files.map(function (f) { var li = row(f); list.appendChild(li); return li; });
    progress.innerHTML = "<h2>Sending</h2>";
    progress.appendChild(list);
    progress.hidden = false;
    document.getElementById("send").disabled = true;
    files.reduce(function (chain, file, i) {
      return chain.then(function () { return send(file, items[i], fields); });
    }, Promise.resolve()).then(function () {
      document.getElementById("send").disabled = false;
      var done = document.createElement("p");
      done.id = "upload-done";
      done.textContent = "Done. Keep this page: the SHA-256 is a fingerprint of each file " +
        "as we received it.";
      progress.appendChild(done);
    });
  });
})();
