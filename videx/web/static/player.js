// The clip player: start at the moment, a track with the moment (red) and the bookmarks
// (purple) marked, the true time and the camera's own clock while playing, steps of one frame
// and one second, and the bookmark form filled with the current position. Keys: left/right
// one frame, shift+left/right one second, space play/pause, m the moment.
(function () {
  "use strict";
  var v = document.getElementById("player");
  var box = document.getElementById("player-box");
  if (!v || !box) return;
  var p = JSON.parse(box.getAttribute("data-player") || "{}");
  var start = parseFloat(v.getAttribute("data-start") || "0");
  var frame = 1 / (p.fps || 25);
  var track = document.getElementById("track"), played = document.getElementById("played");
  var trueEl = document.getElementById("true-time"), camEl = document.getElementById("camera-time");
  var clipEl = document.getElementById("clip-time"), at = document.getElementById("bookmark-at");
  var playBtn = document.getElementById("play");
  var full = new Intl.DateTimeFormat("en-CA", {timeZone: p.zone, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
    timeZoneName: "short"});

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hms(s) {
    var t = Math.max(0, s), h = Math.floor(t / 3600), m = Math.floor(t % 3600 / 60);
    return h + ":" + pad(m) + ":" + pad(Math.floor(t % 60)) + "." + Math.floor(t % 1 * 10);
  }
  function stamp(ts) {
    var parts = {};
    full.formatToParts(new Date(ts * 1000)).forEach(function (x) { parts[x.type] = x.value; });
    var tenth = Math.floor((ts % 1 + 1) % 1 * 10);
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
      parts.minute + ":" + parts.second + "." + tenth + " " + (parts.timeZoneName || "");
  }
  function duration() { return isFinite(v.duration) && v.duration > 0 ? v.duration : p.duration_s; }
  function seek(t) { v.currentTime = Math.min(Math.max(0, t), Math.max(0, duration() - frame / 2)); }

  function show() {
    var t = v.currentTime || 0;
    trueEl.textContent = stamp(p.start_ts + t);
    camEl.textContent = stamp(p.start_ts + t + (p.clock_offset_s || 0));
    clipEl.textContent = hms(t);
    played.style.width = (100 * t / duration()) + "%";
    track.setAttribute("aria-valuenow", Math.round(t));
    track.setAttribute("aria-valuetext", hms(t) + ", true time " + stamp(p.start_ts + t));
    if (at && v.paused) at.value = t.toFixed(3);
    playBtn.textContent = v.paused ? "Play" : "Pause";
  }

  function mark(offset, cls, label) {
    var m = document.createElement("div");
    m.className = "mark " + cls;
    m.style.left = (100 * offset / duration()) + "%";
    m.title = label;
    if (cls === "moment") {
      var tip = document.createElement("span");
      tip.className = "tip";
      tip.textContent = "moment";
      m.appendChild(tip);
    }
    m.addEventListener("click", function (e) { e.stopPropagation(); seek(offset); });
    track.appendChild(m);
  }

  function ready() {
    if (start > 0 && Math.abs(v.currentTime - start) > 0.25) v.currentTime = start;
    track.querySelectorAll(".mark").forEach(function (m) { m.remove(); });
    if (p.moment_offset_s != null) mark(p.moment_offset_s, "moment", "the moment");
    (p.bookmarks || []).forEach(function (b) { mark(b.offset_s, "bookmark", hms(b.offset_s) + ": " + b.note); });
    show();
  }

  track.hidden = false;
  document.getElementById("controls").hidden = false;
  v.addEventListener("loadedmetadata", ready);
  if (v.readyState >= 1) ready();
  v.addEventListener("timeupdate", show);
  v.addEventListener("seeked", show);
  v.addEventListener("play", show);
  v.addEventListener("pause", show);

  function fromPointer(e) {
    var r = track.getBoundingClientRect();
    seek((e.clientX - r.left) / r.width * duration());
  }
  track.addEventListener("pointerdown", function (e) {
    fromPointer(e);
    track.setPointerCapture(e.pointerId);
  });
  track.addEventListener("pointermove", function (e) {
    if (track.hasPointerCapture(e.pointerId)) fromPointer(e);
  });

  function step(seconds) { v.pause(); seek(v.currentTime + seconds); }
  document.getElementById("controls").addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (!b) return;
    if (b.id === "play") { if (v.paused) v.play(); else v.pause(); }
    else if (b.id === "to-moment") { v.pause(); seek(p.moment_offset_s); }
    else if (b.hasAttribute("data-frame")) step(frame * parseFloat(b.getAttribute("data-frame")));
    else if (b.hasAttribute("data-step")) step(parseFloat(b.getAttribute("data-step")));
  });
  function keys(e) {
    if (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA") return;
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      step((e.key === "ArrowLeft" ? -1 : 1) * (e.shiftKey ? 1 : frame));
    } else if (e.key === " " && e.target !== v) {
      e.preventDefault();
      if (v.paused) v.play(); else v.pause();
    } else if ((e.key === "m" || e.key === "M") && p.moment_offset_s != null) {
      v.pause(); seek(p.moment_offset_s);
    }
  }
  document.addEventListener("keydown", keys);
  var form = document.getElementById("bookmark-form");
  if (form) form.addEventListener("submit", function () {
    if (!v.paused || !at.value) { v.pause(); at.value = (v.currentTime || 0).toFixed(3); }
  });
})();
