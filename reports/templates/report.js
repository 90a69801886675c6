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

  // The probes of every (from, to) pair that pass the filter, as lists of probe offsets,
  // keyed by from * nodes + to (a Map: a thousand nodes would be a million array slots).
  function groupProbes(data, keep) {
    var n = data.nodes.length;
    var cells = new Map();
    for (var i = 0; i < data.probes.length; i += 6) {
      if (!keep(data.probes[i + 2])) continue;
      var key = data.probes[i] * n + data.probes[i + 1];
      var list = cells.get(key);
      if (list) list.push(i); else cells.set(key, [i]);
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

  function isFailing(verdict) {
    return verdict === "refused" || verdict === "timeout" || verdict === "wrong-peer";
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

  function sizeGrid(grid, columns, width) {
    grid.textContent = "";
    grid.style.setProperty("--cell", columns <= 24 ? "26px" : columns <= 80 ? "18px" : "14px");
    grid.style.gridTemplateColumns = "max-content repeat(" + columns + ", " + (width || "var(--cell)") + ")";
  }

  function header(fragment, className, text, title) {
    var head = el("div", className, text);
    head.title = title || text;
    fragment.appendChild(head);
  }

  // One cell per (row, column) node pair: `rows` and `cols` are node indices.
  function drawMatrix(data, grid, cells, rows, cols) {
    var n = data.nodes.length;
    sizeGrid(grid, cols.length);
    var fragment = document.createDocumentFragment();
    fragment.appendChild(el("div", "corner", "from \u2193 to \u2192"));
    cols.forEach(function (to) { header(fragment, "colhead", data.nodes[to]); });
    rows.forEach(function (from) {
      header(fragment, "rowhead", data.nodes[from]);
      cols.forEach(function (to) {
        var probes = cells.get(from * n + to);
        var cell = el("div", "cell");
        cell.setAttribute("role", "gridcell");
        if (!probes) {
          cell.className = from === to ? "cell self" : "cell v-none";
        } else {
          var verdict = data.verdicts[cellSummary(data, probes).worst];
          cell.className = "cell probed v-" + verdict + (isFailing(verdict) ? " failing" : "");
          cell.textContent = String(probes.length);
          cell.title = cellTitle(data, from, to, probes);
          cell.setAttribute("data-from", String(from));
          cell.setAttribute("data-to", String(to));
        }
        fragment.appendChild(cell);
      });
    });
    grid.appendChild(fragment);
    grid.setAttribute("data-cells", String(grid.querySelectorAll(".cell.probed").length));
  }

  // Blocks × blocks: each cell sums the probes between two blocks of nodes.
  function drawBlocks(data, grid, cells) {
    var n = data.nodes.length;
    var blockOf = new Array(n);
    data.blocks.forEach(function (b, bi) { b.nodes.forEach(function (i) { blockOf[i] = bi; }); });
    var sums = new Map();
    cells.forEach(function (probes, key) {
      var from = Math.floor(key / n), to = key % n;
      var k = blockOf[from] * data.blocks.length + blockOf[to];
      var s = sums.get(k) || { probes: 0, failing: 0, worst: 0 };
      probes.forEach(function (i) {
        var v = data.probes[i + 3];
        s.probes += 1;
        s.worst = Math.max(s.worst, v);
        if (isFailing(data.verdicts[v])) s.failing += 1;
      });
      sums.set(k, s);
    });
    sizeGrid(grid, data.blocks.length, "calc(var(--cell) * 2.2)");
    var fragment = document.createDocumentFragment();
    fragment.appendChild(el("div", "corner", "from \u2193 to \u2192"));
    data.blocks.forEach(function (b) { header(fragment, "colhead", b.name); });
    data.blocks.forEach(function (a, ai) {
      header(fragment, "rowhead", a.name + " (" + a.nodes.length + ")");
      data.blocks.forEach(function (b, bi) {
        var s = sums.get(ai * data.blocks.length + bi);
        var cell = el("div", "cell block");
        cell.setAttribute("role", "gridcell");
        if (!s) {
          cell.className = "cell block v-none";
        } else {
          var verdict = data.verdicts[s.worst];
          cell.className = "cell block probed-block v-" + verdict + (s.failing ? " failing" : "");
          cell.textContent = String(s.failing || s.probes);
          cell.title = a.name + " \u2192 " + b.name + ": " + s.probes + " probes, " + s.failing + " failing";
          cell.setAttribute("data-block-from", String(ai));
          cell.setAttribute("data-block-to", String(bi));
        }
        fragment.appendChild(cell);
      });
    });
    grid.appendChild(fragment);
    grid.setAttribute("data-blocks", String(data.blocks.length));
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
    var drill = document.getElementById("drill");
    var drillGrid = document.getElementById("drill-matrix");
    var grouped = data.view === "groups";
    var allNodes = data.nodes.map(function (_, i) { return i; });
    var cells;
    var open = null; // the drilled-down block pair
    function draw() {
      cells = groupProbes(data, filterFor(data, select.value));
      if (grouped) {
        drawBlocks(data, grid, cells);
        if (open) drillDown(open[0], open[1]);
      } else {
        drawMatrix(data, grid, cells, allNodes, allNodes);
      }
    }
    function drillDown(a, b) {
      open = [a, b];
      var from = data.blocks[a], to = data.blocks[b];
      document.getElementById("drill-title").textContent = from.name + " \u2192 " + to.name;
      drawMatrix(data, drillGrid, cells, from.nodes, to.nodes);
      drill.hidden = false;
    }
    fillFilter(data, select);
    draw();
    select.addEventListener("change", function () {
      panel.hidden = true;
      draw();
    });
    function openCell(target, cell) {
      var previous = document.querySelector(".cell.selected");
      if (previous) previous.classList.remove("selected");
      cell.classList.add("selected");
      var from = Number(cell.getAttribute("data-from"));
      var to = Number(cell.getAttribute("data-to"));
      showDetails(data, panel, from, to, cells.get(from * data.nodes.length + to));
      return from + "," + to;
    }
    function onCellClick(target) {
      return function (event) {
        var cell = event.target.closest ? event.target.closest(".cell.probed") : null;
        if (!cell) return;
        // The address then names the cell, so a reader can link a colleague to it.
        history.replaceState(null, "", "#cell=" + openCell(target, cell));
      };
    }
    grid.addEventListener("click", function (event) {
      var block = event.target.closest ? event.target.closest(".cell.probed-block") : null;
      if (block) {
        panel.hidden = true;
        drillDown(Number(block.getAttribute("data-block-from")), Number(block.getAttribute("data-block-to")));
        return;
      }
      onCellClick(grid)(event);
    });
    drillGrid.addEventListener("click", onCellClick(drillGrid));
    // Opened as `report.html#cell=FROM,TO` (node numbers, from 0): show that cell, in its
    // block pair's drill-down when the matrix is grouped.
    var linked = /^#cell=(\d+),(\d+)$/.exec(window.location.hash);
    if (linked) {
      var target = grid;
      if (grouped) {
        var blockOf = function (node) {
          return data.blocks.findIndex(function (b) { return b.nodes.indexOf(node) >= 0; });
        };
        var a = blockOf(Number(linked[1])), b = blockOf(Number(linked[2]));
        if (a >= 0 && b >= 0) drillDown(a, b);
        target = drillGrid;
      }
      var cell = target.querySelector('.cell.probed[data-from="' + linked[1] + '"][data-to="' + linked[2] + '"]');
      if (cell) openCell(target, cell);
    }
  }

  try {
    init();
    if (body.getAttribute("data-render") !== "error") body.setAttribute("data-render", "ok");
  } catch (e) {
    recordError(e && e.message ? e.message : e);
  }
})();
