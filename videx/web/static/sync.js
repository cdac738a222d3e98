// The synchronized view: every clip that covers the moment plays together. One clock: the
// time relative to the moment. Each video shows moment offset + that time; the first video
// that covers it leads and the others are pulled back into step when they drift (> 0.12 s).
(function () {
  "use strict";
  var grid = document.getElementById("syncgrid");
  if (!grid) return;
  var moment = parseFloat(grid.getAttribute("data-moment"));
  var fmt = new Intl.DateTimeFormat("en-CA", {timeZone: grid.getAttribute("data-zone"),
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short"});
  var items = Array.prototype.map.call(grid.querySelectorAll("figure"), function (f) {
    return {fig: f, v: f.querySelector("video"), state: f.querySelector(".state"),
            offset: parseFloat(f.getAttribute("data-offset")),
            duration: parseFloat(f.getAttribute("data-duration")),
            fps: parseFloat(f.getAttribute("data-fps")) || 25};
  });
  var rel = 0, playing = false;
  var frame = 1 / Math.max.apply(null, items.map(function (i) { return i.fps; }));
  var timeEl = document.getElementById("sync-time"), relEl = document.getElementById("sync-rel");
  var playBtn = document.getElementById("sync-play");

  function covers(it, r) { return it.offset + r >= 0 && it.offset + r < it.duration; }
  function place(r) {
    rel = r;
    items.forEach(function (it) {
      var inside = covers(it, r);
      it.fig.classList.toggle("outside", !inside);
      it.state.textContent = inside ? "" : "(not recording at this time)";
      if (inside) {
        if (Math.abs(it.v.currentTime - (it.offset + r)) > 0.04) it.v.currentTime = it.offset + r;
        if (playing && it.v.paused) it.v.play().catch(function () {});
      } else if (!it.v.paused) it.v.pause();
    });
    show();
  }
  function show() {
    timeEl.textContent = fmt.format(new Date((moment + rel) * 1000));
    var r = Math.round(rel * 10) / 10;
    relEl.textContent = r === 0 ? "at the moment" : (r > 0 ? r + " s after the moment" :
                                                     (-r) + " s before the moment");
    playBtn.textContent = playing ? "Pause all" : "Play all";
  }
  function leader() { return items.filter(function (it) { return covers(it, rel) && !it.v.paused; })[0]; }
  function tick() {
    if (playing) {
      var lead = leader();
      if (lead) {
        rel = lead.v.currentTime - lead.offset;
        items.forEach(function (it) {
          if (it === lead) return;
          var inside = covers(it, rel);
          if (inside && (it.v.paused || Math.abs(it.v.currentTime - (it.offset + rel)) > 0.12)) {
            it.v.currentTime = it.offset + rel;
            if (it.v.paused) it.v.play().catch(function () {});
          } else if (!inside && !it.v.paused) it.v.pause();
          it.fig.classList.toggle("outside", !inside);
        });
      } else {
        playing = false;
      }
      show();
    }
    requestAnimationFrame(tick);
  }
  function setPlaying(on) {
    playing = on;
    items.forEach(function (it) {
      if (on && covers(it, rel)) it.v.play().catch(function () {}); else it.v.pause();
    });
    show();
  }
  document.getElementById("sync-controls").hidden = false;
  document.getElementById("sync-controls").addEventListener("click", function (e) {
    var b = e.target.closest("button");
    if (!b) return;
    if (b.id === "sync-play") return setPlaying(!playing);
    setPlaying(false);
    if (b.id === "sync-moment") place(0);
    else if (b.hasAttribute("data-frame")) place(rel + frame * parseFloat(b.getAttribute("data-frame")));
    else if (b.hasAttribute("data-step")) place(rel + parseFloat(b.getAttribute("data-step")));
  });
  items.forEach(function (it) {
    it.v.addEventListener("loadedmetadata", function () { if (!playing) place(rel); });
  });
  place(0);
  requestAnimationFrame(tick);
})();
