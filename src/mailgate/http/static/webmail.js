// The webmail with htmx: after a page is swapped in without a reload, focus moves to its
// content, as a keyboard or screen-reader user would find it after a full page load.
document.addEventListener("htmx:afterSwap", function (event) {
  if (!event.detail.boosted) { return; }
  var content = document.getElementById("content");
  if (content) { content.focus({ preventScroll: true }); }
});
