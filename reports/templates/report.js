// tarmac report script: draws the reachability matrix from the JSON blob in #tarmac-data.
// Data from nodes only ever reaches the page through textContent and title (never
// innerHTML). Errors are recorded on <body data-render> and in #render-errors, so a
// headless browser (and a reader) can tell that the page rendered completely.
(function () {
  "use strict";
  var body = document.body;

  function recordError(message) {
    body.setAttribute("data-render", "error");
    var list = document.getElementById("render-errors");
    if (list) {
      var item = document.createElement("li");
      item.textContent = "The page's script failed: " + String(message);
      list.appendChild(item);
      list.hidden = false;
    }
  }

  window.addEventListener("error", function (event) {
    recordError(event.message || "unknown script error");
  });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function portLabel(data, index) {
    var p = data.ports[index];
    return p[0] + "/" + p[1];
  }

  function rttLabel(us) {
    if (us < 0) return "";
    return us < 1000 ? us + " µs" : (us / 1000).toFixed(2) + " ms";
  }

  // The probes of every (from, to) pair that pass the filter, as lists of probe offsets.
  function groupProbes(data, keep) {
    var n = data.nodes.length;
    var cells = new Array(n * n);
    for (var i = 0; i < data.probes.length; i += 6) {
      if (!keep(data.probes[i + 2])) continue;
      var key = data.probes[i] * n + data.probes[i + 1];
      (cells[key] || (cells[key] = [])).push(i);
    }
    return cells;
  }

  function filterFor(data, value) {
    if (value === "all") return function () { return true; };
    if (value.indexOf("proto:") === 0) {
      var proto = value.slice(6);
      return function (port) { return data.ports[port][1] === proto; };
    }
    var wanted = Number(value.slice(5));
    return function (port) { return port === wanted; };
  }

  function cellSummary(data, probes) {
    var counts = {};
    var worst = 0;
    probes.forEach(function (i) {
      var v = data.probes[i + 3];
      worst = Math.max(worst, v);
      counts[data.verdicts[v]] = (counts[data.verdicts[v]] || 0) + 1;
    });
    return { worst: worst, counts: counts };
  }

  function cellTitle(data, from, to, probes) {
    var lines = [data.nodes[from] + " \u2192 " + data.nodes[to]];
    probes.forEach(function (i) {
      var p = data.probes;
      var line = portLabel(data, p[i + 2]) + ": " + data.verdicts[p[i + 3]];
      if (p[i + 4] >= 0) line += " (" + rttLabel(p[i + 4]) + ")";
      if (p[i + 5] > 0) line += " \u2014 " + data.notes[p[i + 5]];
      lines.push(line);
    });
    return lines.join("\n");
  }

  function drawMatrix(data, grid, value) {
    var n = data.nodes.length;
    var cells = groupProbes(data, filterFor(data, value));
    grid.textContent = "";
    // Big cells while they fit, small ones at hundreds of nodes (the headers stay sticky).
    grid.style.setProperty("--cell", n <= 24 ? "26px" : n <= 80 ? "18px" : "14px");
    grid.style.gridTemplateColumns = "max-content repeat(" + n + ", var(--cell))";
    var fragment = document.createDocumentFragment();
    fragment.appendChild(el("div", "corner", "from \u2193 to \u2192"));
    data.nodes.forEach(function (name) {
      var head = el("div", "colhead", name);
      head.title = name;
      fragment.appendChild(head);
    });
    for (var from = 0; from < n; from++) {
      var head = el("div", "rowhead", data.nodes[from]);
      head.title = data.nodes[from];
      fragment.appendChild(head);
      for (var to = 0; to < n; to++) {
        var probes = cells[from * n + to];
        var cell = el("div", "cell");
        cell.setAttribute("role", "gridcell");
        if (!probes) {
          cell.className = from === to ? "cell self" : "cell v-none";
        } else {
          var summary = cellSummary(data, probes);
          var verdict = data.verdicts[summary.worst];
          var failing = verdict === "refused" || verdict === "timeout" || verdict === "wrong-peer";
          cell.className = "cell probed v-" + verdict + (failing ? " failing" : "");
          cell.textContent = String(probes.length);
          cell.title = cellTitle(data, from, to, probes);
          cell.setAttribute("data-from", String(from));
          cell.setAttribute("data-to", String(to));
        }
        fragment.appendChild(cell);
      }
    }
    grid.appendChild(fragment);
    grid.setAttribute("data-cells", String(grid.querySelectorAll(".cell.probed").length));
    return cells;
  }

  function showDetails(data, panel, from, to, probes) {
    panel.textContent = "";
    panel.appendChild(el("h3", "", data.nodes[from] + " \u2192 " + data.nodes[to]));
    var table = el("table");
    var head = el("tr");
    ["port", "verdict", "round trip", "note"].forEach(function (h) { head.appendChild(el("th", "", h)); });
    table.appendChild(head);
    probes.forEach(function (i) {
      var p = data.probes;
      var row = el("tr");
      row.appendChild(el("td", "", portLabel(data, p[i + 2])));
      row.appendChild(el("td", "v-" + data.verdicts[p[i + 3]], data.verdicts[p[i + 3]]));
      row.appendChild(el("td", "", rttLabel(p[i + 4])));
      row.appendChild(el("td", "", data.notes[p[i + 5]]));
      table.appendChild(row);
    });
    panel.appendChild(table);
    panel.hidden = false;
  }

  function fillFilter(data, select) {
    var protocols = {};
    data.ports.forEach(function (p) { protocols[p[1]] = true; });
    var byProto = el("optgroup");
    byProto.label = "protocol";
    Object.keys(protocols).sort().forEach(function (proto) {
      var option = el("option", "", "all " + proto);
      option.value = "proto:" + proto;
      byProto.appendChild(option);
    });
    select.appendChild(byProto);
    var byPort = el("optgroup");
    byPort.label = "port";
    data.ports.forEach(function (_, index) {
      var option = el("option", "", portLabel(data, index));
      option.value = "port:" + index;
      byPort.appendChild(option);
    });
    select.appendChild(byPort);
  }

  function init() {
    var grid = document.getElementById("matrix");
    if (!grid) return; // no reachability data: the page says so instead
    var data = JSON.parse(document.getElementById("tarmac-data").textContent);
    var select = document.getElementById("matrix-filter");
    var panel = document.getElementById("cell-details");
    fillFilter(data, select);
    var cells = drawMatrix(data, grid, select.value);
    select.addEventListener("change", function () {
      panel.hidden = true;
      cells = drawMatrix(data, grid, select.value);
    });
    function openCell(cell) {
      var previous = grid.querySelector(".cell.selected");
      if (previous) previous.classList.remove("selected");
      cell.classList.add("selected");
      var from = Number(cell.getAttribute("data-from"));
      var to = Number(cell.getAttribute("data-to"));
      showDetails(data, panel, from, to, cells[from * data.nodes.length + to]);
      return from + "," + to;
    }
    grid.addEventListener("click", function (event) {
      var cell = event.target.closest ? event.target.closest(".cell.probed") : null;
      if (!cell) return;
      // The address then names the cell, so a reader can link a colleague to it.
      history.replaceState(null, "", "#cell=" + openCell(cell));
    });
    // Opened as `report.html#cell=FROM,TO` (row and column numbers, from 0): show that cell.
    var linked = /^#cell=(\d+),(\d+)$/.exec(window.location.hash);
    if (linked) {
      var cell = grid.querySelector('.cell.probed[data-from="' + linked[1] + '"][data-to="' + linked[2] + '"]');
      if (cell) openCell(cell);
    }
  }

  try {
    init();
    if (body.getAttribute("data-render") !== "error") body.setAttribute("data-render", "ok");
  } catch (e) {
    recordError(e && e.message ? e.message : e);
  }
})();
