/* The console's maps, over Leaflet (templates/console/_map.html).
   - data-map="list": the points of a list, each linking to its page; with data-filter-form, the
     form's "只看地图范围内" box filters the list to the map's view (its bbox field).
   - data-map="picker": a form's lat/lng, set by clicking on the map or dragging the marker;
     typing in the fields moves the marker.
   Tiles come from data-tile-url (MAP_TILE_URL); without it the points show on a plain
   background with a scale.  A reader who asks for reduced motion gets zooms without animation. */
(function () {
  "use strict";
  var MAINLAND = {center: [35.0, 105.0], zoom: 4};
  var PICKED_ZOOM = 16;  // a point being placed: street level
  var FIT = {maxZoom: 15, padding: [24, 24]};
  var BRAND = "#b71c1c";

  function pointsOf(el) {
    var node = document.getElementById(el.getAttribute("data-points"));
    return node ? JSON.parse(node.textContent) : [];
  }

  var STILL = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function baseMap(el) {
    var map = L.map(el, {zoomAnimation: !STILL, fadeAnimation: !STILL, markerZoomAnimation: !STILL});
    var url = el.getAttribute("data-tile-url");
    if (url) {
      L.tileLayer(url, {subdomains: el.getAttribute("data-tile-subdomains") || "abc", maxZoom: 18,
                        attribution: el.getAttribute("data-tile-attribution") || ""}).addTo(map);
    }
    map.attributionControl.setPrefix(false);
    L.control.scale({imperial: false}).addTo(map);
    return map;
  }

  function popup(point) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = point.url;
    link.textContent = point.name;
    box.appendChild(link);
    if (point.code) {
      var code = document.createElement("div");
      code.className = "muted small";
      code.textContent = point.code;
      box.appendChild(code);
    }
    return box;
  }

  function viewString(map) {
    var b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",");
  }

  function listMap(el) {
    var map = baseMap(el);
    var items = pointsOf(el);
    var group = L.featureGroup(items.map(function (p) {
      return L.circleMarker([p.lat, p.lng], {radius: 7, color: "#fff", weight: 2, fillColor: BRAND, fillOpacity: 0.9})
        .bindPopup(popup(p));
    })).addTo(map);
    var bbox = el.getAttribute("data-bbox");
    if (bbox) {
      var b = bbox.split(",").map(Number);
      map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    } else if (items.length) {
      map.fitBounds(group.getBounds(), FIT);
    } else {
      map.setView(MAINLAND.center, MAINLAND.zoom);
    }
    var form = document.getElementById(el.getAttribute("data-filter-form") || "");
    if (!form) { return; }
    var inView = form.querySelector("input[data-map-in-view]");
    var field = form.querySelector("input[name=bbox]");
    form.addEventListener("submit", function () {
      field.value = inView.checked ? viewString(map) : "";
      field.disabled = !inView.checked;
    });
    inView.addEventListener("change", function () { form.requestSubmit(); });
    var again = L.control({position: "topright"});
    again.onAdd = function () {
      var button = L.DomUtil.create("button", "map-search-here primary");
      button.type = "button";
      button.textContent = "按当前地图范围筛选";
      L.DomEvent.disableClickPropagation(button);
      L.DomEvent.on(button, "click", function () { form.requestSubmit(); });
      return button;
    };
    var shown = viewString(map);
    map.on("moveend", function () {
      if (inView.checked && viewString(map) !== shown && !again.getContainer()) { again.addTo(map); }
    });
  }

  function pickerMap(el) {
    var form = el.closest("form");
    var lat = form.querySelector("input[name=lat]");
    var lng = form.querySelector("input[name=lng]");
    var map = baseMap(el);
    var marker = null;
    var neighbours = pointsOf(el);
    var group = L.featureGroup(neighbours.map(function (p) {
      return L.circleMarker([p.lat, p.lng], {radius: 5, color: "#6b7785", weight: 1, fillOpacity: 0.5,
                                             interactive: false});
    })).addTo(map);

    function typed() {
      var a = parseFloat(lat.value), b = parseFloat(lng.value);
      return isFinite(a) && isFinite(b) && Math.abs(a) <= 85 && Math.abs(b) <= 180 ? L.latLng(a, b) : null;
    }
    function write(point) {
      lat.value = point.lat.toFixed(6);
      lng.value = point.lng.toFixed(6);
    }
    function place(point) {
      if (marker) { marker.setLatLng(point); return; }
      marker = L.marker(point, {draggable: true, title: "拖动以调整位置", autoPan: true}).addTo(map);
      marker.on("dragend", function () { write(marker.getLatLng()); });
    }
    map.on("click", function (event) {
      place(event.latlng);
      write(event.latlng);
    });
    [lat, lng].forEach(function (input) {
      input.addEventListener("input", function () {
        var point = typed();
        if (point) { place(point); map.panTo(point, {animate: !STILL}); }
      });
    });
    var start = typed();
    if (start) {
      place(start);
      map.setView(start, PICKED_ZOOM);
    } else if (neighbours.length) {
      map.fitBounds(group.getBounds(), FIT);
    } else {
      map.setView(MAINLAND.center, MAINLAND.zoom);
    }
  }

  document.querySelectorAll("[data-map=list]").forEach(listMap);
  document.querySelectorAll("[data-map=picker]").forEach(pickerMap);
}());
