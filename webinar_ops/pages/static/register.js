// The registration page without a server round trip: the visitor's zone is chosen for them,
// the times are shown on their clock, and the form cannot be sent twice by a double click.
// Everything here is an improvement: the page works without it.
(function () {
  "use strict";
  var select = document.getElementById("time_zone");
  var browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { browserZone = ""; }

  function zone() { return (select && select.value) || browserZone; }

  function clock(iso, tz) {
    return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz })
      .format(new Date(iso));
  }

  function day(iso, tz) {
    return new Intl.DateTimeFormat("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: tz })
      .format(new Date(iso)).replace(",", "");
  }

  function span(start, end, tz) {
    return end ? clock(start, tz) + "–" + clock(end, tz) : clock(start, tz);
  }

  function showLocalTimes() {
    var tz = zone();
    var yours = document.getElementById("your-time");
    var eventZone = yours ? yours.dataset.eventZone : "";
    var cells = document.querySelectorAll(".local");
    var moments = document.querySelectorAll(".your-moment");
    var differs = tz && tz !== eventZone;
    try {
      if (yours) {
        yours.textContent = differs ? day(yours.dataset.start, tz) + ", " + span(yours.dataset.start, yours.dataset.end, tz) +
          " your time (" + tz + ")" : "";
        yours.hidden = !differs;
      }
      cells.forEach(function (cell) {
        if (cell.dataset.start) { cell.textContent = span(cell.dataset.start, cell.dataset.end, tz); }
        cell.hidden = !differs;
      });
      // When registration opens or closed: one moment, on the visitor's clock too.
      moments.forEach(function (moment) {
        moment.textContent = differs ? day(moment.dataset.moment, tz) + ", " + clock(moment.dataset.moment, tz) +
          " your time (" + tz + ")" : "";
        moment.hidden = !differs;
      });
    } catch (e) {
      // An unknown zone name: the page keeps the event's times only.
      if (yours) { yours.hidden = true; }
      cells.forEach(function (cell) { cell.hidden = true; });
      moments.forEach(function (moment) { moment.hidden = true; });
    }
  }

  if (select && !select.value && browserZone) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === browserZone) { select.value = browserZone; break; }
    }
  }
  if (select) { select.addEventListener("change", showLocalTimes); }
  showLocalTimes();

  var form = document.getElementById("registration");
  if (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "yes";
      var button = document.getElementById("submit");
      button.disabled = true;
      button.textContent = "Registering…";
    });
  }
  // Back to this page from the next one, the browser may show it as it was left: sending.
  window.addEventListener("pageshow", function () {
    if (!form) { return; }
    delete form.dataset.sent;
    var button = document.getElementById("submit");
    if (button) { button.disabled = false; button.textContent = "Register"; }
  });
  var problems = document.getElementById("problems");
  if (problems) { problems.focus(); }
})();
