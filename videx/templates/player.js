// Start the clip at the moment: the #t= fragment does it in most browsers; this covers the rest.
(function () {
  var v = document.getElementById("player");
  if (!v) return;
  var start = parseFloat(v.getAttribute("data-start") || "0");
  v.addEventListener("loadedmetadata", function () {
    if (start > 0 && Math.abs(v.currentTime - start) > 0.25) v.currentTime = start;
  });
})();
