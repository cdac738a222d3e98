// The incident page's map. Without a basemap the server's SVG sketch stays, and tapping a
// camera shows what it is (name, distance, footage, deadline, status) with a link to it. With
// a basemap (videx serve --basemap) Leaflet draws the streets, the cameras and their view
// wedges (filled when the place is in view, outlined otherwise) and labels that do not
// collide (a label that would cover another is hidden until zoomed in).
(function () {
  "use strict";
  var figure = document.getElementById("map");
  if (!figure) return;
  var data = JSON.parse(figure.getAttribute("data-map") || "{}");
  var byId = {};
  (data.cameras || []).forEach(function (c) { byId[c.id] = c; });
  var info = document.getElementById("mapinfo");

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (ch) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch];
    });
  }

  function describe(c) {
    return "<strong><a href=\"" + esc(c.href) + "\">" + esc(c.id) + "</a></strong>" +
      (c.name ? " " + esc(c.name) : "") + "<br>" + esc(c.distance_m) + " m &middot; " +
      esc(c.status) + (c.in_view === true ? " &middot; in view" : c.in_view === false ?
        " &middot; facing away" : "") +
      (c.deadline ? "<br>" + esc(c.deadline) + (c.deadline_at ? " (" + esc(c.deadline_at) +
        ")" : "") : "") + (c.outcome ? "<br>" + esc(c.outcome) : "");
  }

  // the SVG sketch: a tap on a camera shows its card (a second tap follows the link)
  figure.addEventListener("click", function (event) {
    var a = event.target.closest ? event.target.closest("a.camera") : null;
    if (!a || !info) return;
    var c = byId[a.getAttribute("data-camera")];
    if (!c) return;
    if (info.getAttribute("data-camera") === c.id && !info.hidden) return;   // follow link
    event.preventDefault();
    info.innerHTML = describe(c);
    info.setAttribute("data-camera", c.id);
    info.hidden = false;
  });

  var basemap = figure.getAttribute("data-basemap");
  var holder = document.getElementById("leaflet");
  if (!basemap || !holder || typeof L === "undefined") return;
  holder.hidden = false;
  figure.hidden = true;

  var inc = data.incident;
  var map = L.map(holder, {zoomSnap: 0.25, scrollWheelZoom: false});
  // a view first: shapes need one to be placed
  map.fitBounds(L.latLng(inc.lat, inc.lon).toBounds(data.radius_m * 2), {padding: [12, 12]});
  L.tileLayer(basemap, {maxZoom: 20, maxNativeZoom: 19,
                        attribution: "basemap: the department's own"}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  L.circle([inc.lat, inc.lon], {radius: data.radius_m, color: "#4a5568", weight: 1.5,
                                dashArray: "6 4", fill: false, interactive: false}).addTo(map);

  function destination(lat, lon, bearingDeg, metres) {
    var R = 6371008.8, d = metres / R, b = bearingDeg * Math.PI / 180;
    var p1 = lat * Math.PI / 180, l1 = lon * Math.PI / 180;
    var p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
    var l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1),
                             Math.cos(d) - Math.sin(p1) * Math.sin(p2));
    return [p2 * 180 / Math.PI, l2 * 180 / Math.PI];
  }

  var labels = [];
  (data.cameras || []).forEach(function (c) {
    if (c.view) {
      var fov = Math.min(c.view.fov_deg, 359), steps = 16, pts = [[c.lat, c.lon]];
      for (var i = 0; i <= steps; i++) {
        pts.push(destination(c.lat, c.lon, c.view.heading_deg - fov / 2 + fov * i / steps,
                             Math.min(c.view.range_m, data.radius_m * 1.2)));
      }
      L.polygon(pts, c.in_view === true ?
        {color: c.colour, weight: 1, opacity: 0.7, fillColor: c.colour, fillOpacity: 0.25} :
        {color: c.colour, weight: 1, opacity: 0.5, dashArray: "3 3", fill: false,
         interactive: false}).addTo(map);
    }
    var marker = L.circleMarker([c.lat, c.lon], {radius: 8, color: "#fff", weight: 2,
                                                 fillColor: c.colour, fillOpacity: 1})
      .bindPopup(describe(c)).addTo(map);
    marker.bindTooltip(esc(c.id), {permanent: true, direction: "right", offset: [8, 0],
                                   className: "camlabel"});
    labels.push(marker);
  });
  L.circleMarker([inc.lat, inc.lon], {radius: 9, color: "#742a2a", weight: 2,
                                      fillColor: "#e53e3e", fillOpacity: 1})
    .bindTooltip("incident " + esc(inc.id)).addTo(map);

  // hide labels that would cover one placed before (nearest cameras first)
  function declutter() {
    var placed = [];
    labels.forEach(function (m) {
      var el = m.getTooltip() && m.getTooltip().getElement();
      if (!el) return;
      el.style.visibility = "visible";
      var r = el.getBoundingClientRect();
      var hit = placed.some(function (p) {
        return r.left < p.right && p.left < r.right && r.top < p.bottom && p.top < r.bottom;
      });
      if (hit) el.style.visibility = "hidden"; else placed.push(r);
    });
  }
  map.on("zoomend moveend", declutter);
  setTimeout(declutter, 0);
})();
