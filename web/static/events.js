// Live events for the open page: server-sent events from the server's asyncio port (signed in
// by the session cookie), re-connected when they drop. Each event is passed on as
//   window.dispatchEvent(new CustomEvent("gp:event", {detail: event}))
// and pages listen to "gp:event" to refresh their parts.
(function () {
  "use strict";
  var tag = document.getElementById("gp-events");
  if (!tag || !window.EventSource) { return; }
  var url = tag.getAttribute("data-url");
  var wait = 1000;
  var source = null;

  function connect() {
    source = new EventSource(url, {withCredentials: true});
    source.onopen = function () { wait = 1000; window.gpEventsOpen = true; };
    source.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      window.dispatchEvent(new CustomEvent("gp:event", {detail: event}));
    };
    source.onerror = function () {
      window.gpEventsOpen = false;
      if (source.readyState === EventSource.CLOSED) {  // refused: try again, later each time
        source.close();
        setTimeout(connect, wait);
        wait = Math.min(wait * 2, 60000);
      }
    };
  }
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
  connect();
}());
