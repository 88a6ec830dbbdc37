// Follows a running build on its page: each running step's log grows as the worker writes
// it, new steps appear, and the result shows when the build ends. Text is only ever added as
// text nodes, never as HTML.
(function () {
  "use strict";
  var result = document.getElementById("build-result");
  if (!result || result.dataset.running !== "true") return;
  var build = result.dataset.build;

  function follow(pre) {
    if (pre.dataset.following) return;
    pre.dataset.following = "1";
    var number = pre.id.slice("log-".length);
    var from = pre.dataset.nextSeq || "0";
    var source = new EventSource("/builds/" + build + "/steps/" + number + "/stream?from=" + from);
    source.addEventListener("log", function (e) {
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(JSON.parse(e.data)));
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener("end", function () {
      source.close();
      pre.dataset.running = "false";
    });
  }

  function addStep(number, name) {
    if (document.getElementById("log-" + number)) return;
    var row = document.createElement("tr");
    row.dataset.step = name;
    row.dataset.number = number;
    row.dataset.result = "running";
    [String(number), name, "running", "", "running", ""].forEach(function (text, i) {
      var cell = document.createElement("td");
      cell.textContent = text;
      if (i === 2) cell.className = "result";
      row.appendChild(cell);
    });
    document.querySelector("#steps tbody").appendChild(row);
    var section = document.createElement("section");
    section.id = "step-" + number;
    var heading = document.createElement("h3");
    heading.textContent = number + ". " + name;
    var pre = document.createElement("pre");
    pre.className = "log";
    pre.id = "log-" + number;
    pre.dataset.step = name;
    pre.dataset.nextSeq = "0";
    pre.dataset.running = "true";
    section.appendChild(heading);
    section.appendChild(pre);
    document.getElementById("logs").appendChild(section);
    follow(pre);
  }

  // What steps store besides their logs (the summary, durations, properties, the analyzer's
  // findings) is rendered by the server: after each step and at the end the page is fetched
  // again and those parts are swapped in, so nothing is rendered twice. Logs stay as they are.
  // Answers may come back out of order: only the latest request's is used.
  var latest = 0;
  function refresh() {
    var mine = ++latest;
    fetch(location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (mine !== latest) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["build-summary", "findings-section", "properties-section"].forEach(function (id) {
          var old = document.getElementById(id);
          var now = fresh.getElementById(id);
          if (old && now) old.replaceWith(document.importNode(now, true));
        });
        var rows = fresh.querySelector("#steps tbody");
        var body = document.querySelector("#steps tbody");
        if (rows && body) body.replaceWith(document.importNode(rows, true));
      })
      .catch(function () {});
  }

  document.querySelectorAll('pre.log[data-running="true"]').forEach(follow);
  var events = new EventSource("/builds/" + build + "/stream");
  events.addEventListener("step", function (e) {
    var d = JSON.parse(e.data);
    addStep(d.number, d.name);
  });
  events.addEventListener("stepend", function (e) {
    var d = JSON.parse(e.data);
    var row = document.querySelector('#steps tr[data-number="' + d.number + '"]');
    if (!row) return;
    row.dataset.result = d.result;
    var cell = row.querySelector(".result");
    if (cell) cell.textContent = d.result;
    refresh();
  });
  events.addEventListener("end", function (e) {
    var d = JSON.parse(e.data);
    events.close();
    result.dataset.result = d.result;
    result.dataset.running = "false";
    result.textContent = d.result;
    var stop = document.getElementById("stop");
    if (stop) stop.remove();
    refresh();
  });
})();
