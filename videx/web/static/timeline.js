// The coverage line, zoomable around the moment: the whole window, or 10 or 2 minutes around
// it, each clip a link to the player at the moment, clips never thinner than 4 px. Without
// JavaScript the server's drawing of the whole window stays.
(function () {
  "use strict";
  var figure = document.getElementById("timeline");
  var zoom = document.getElementById("zoom");
  if (!figure || !zoom) return;
  var d = JSON.parse(figure.getAttribute("data-timeline") || "null");
  if (!d || !d.cameras.length) return;
  var NS = "http://www.w3.org/2000/svg";
  var fmt = new Intl.DateTimeFormat("en-GB", {timeZone: d.zone, hour: "2-digit",
                                              minute: "2-digit", hour12: false});
  var fmtS = new Intl.DateTimeFormat("en-GB", {timeZone: d.zone, hour: "2-digit",
                                               minute: "2-digit", second: "2-digit",
                                               hour12: false});
  var STEPS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600];

  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function draw(span) {
    var centre = d.moment != null ? d.moment : (d.t0 + d.t1) / 2;
    var t0 = span ? Math.max(d.t0, centre - span / 2) : d.t0;
    var t1 = span ? Math.min(d.t1, centre + span / 2) : d.t1;
    var width = Math.max(320, Math.min(figure.clientWidth || 860, 1100));
    var left = 96, rowH = 26, axis = 34, plotW = width - left - 10;
    var bottom = axis + rowH * d.cameras.length;
    var height = bottom + (d.empty ? 22 : 6);
    var x = function (t) { return left + (Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0) * plotW; };
    var svg = el("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height,
                         role: "group", "aria-label": "coverage timeline"});
    var step = STEPS.filter(function (s) { return (t1 - t0) / s <= 8; })[0] || 21600;
    for (var tick = Math.ceil(t0 / step) * step; tick <= t1; tick += step) {
      svg.appendChild(el("line", {x1: x(tick), x2: x(tick), y1: axis - 6, y2: bottom,
                                  stroke: "#cbd5e0"}));
      svg.appendChild(el("text", {x: x(tick), y: axis - 10, "font-size": 11,
                                  "text-anchor": "middle"},
                         (step < 60 ? fmtS : fmt).format(new Date(tick * 1000))));
    }
    d.cameras.forEach(function (cam, i) {
      var y = axis + i * rowH;
      svg.appendChild(el("text", {x: 4, y: y + 16, "font-size": 12}, cam.id.slice(0, 14)));
      svg.appendChild(el("rect", {x: left, y: y + 3, width: plotW, height: rowH - 8,
                                  fill: "#fed7d7", opacity: 0.6}));
      cam.clips.forEach(function (k) {
        if (k.end <= t0 || k.start >= t1) return;
        var a = el("a", {href: k.href, "aria-label": "clip " + k.id + ", " + cam.id});
        var r = el("rect", {x: x(k.start), y: y + 3, width: Math.max(4, x(k.end) - x(k.start)),
                            height: rowH - 8, fill: "#2f855a", "class": "clip"});
        r.appendChild(el("title", {}, "clip " + k.id + ": " + fmtS.format(new Date(k.start * 1000)) +
                         " to " + fmtS.format(new Date(k.end * 1000))));
        a.appendChild(r);
        svg.appendChild(a);
      });
    });
    if (d.moment != null) {
      svg.appendChild(el("line", {x1: x(d.moment), x2: x(d.moment), y1: axis - 4, y2: bottom,
                                  stroke: "#c53030", "stroke-width": 2}));
      svg.appendChild(el("text", {x: x(d.moment) + 3, y: bottom - 3, "font-size": 11,
                                  fill: "#9b2c2c"}, "moment"));
    } else if (d.day) {
      svg.appendChild(el("rect", {x: x(d.day[0]), y: axis - 4,
                                  width: Math.max(2, x(d.day[1]) - x(d.day[0])),
                                  height: bottom - axis + 4, fill: "#c53030", opacity: 0.08}));
    }
    if (d.empty) {
      svg.appendChild(el("text", {x: 4, y: height - 6, "font-size": 11, fill: "#4a5568"},
                         d.empty + " other camera(s) within " + d.radius_m +
                         " m: no clip in the window"));
    }
    figure.replaceChildren(svg);
  }

  zoom.hidden = d.moment == null;
  zoom.addEventListener("click", function (event) {
    var b = event.target.closest("button[data-span]");
    if (!b) return;
    zoom.querySelectorAll("button").forEach(function (o) {
      o.setAttribute("aria-pressed", String(o === b));
    });
    draw(parseFloat(b.getAttribute("data-span")));
  });
  draw(0);
})();
