// The draft's relationship graph, drawn with the vendored cytoscape from the JSON data block
// #draft-graph. Labels are drawn as text on a canvas: nothing authored becomes markup.
(function () {
  "use strict";
  var data = document.getElementById("draft-graph");
  var container = document.getElementById("graph");
  if (!data || !container || typeof window.cytoscape !== "function") return;
  var graph = JSON.parse(data.textContent);
  var elements = graph.nodes.map(function (node) {
    return { data: { id: node.id, label: node.label + "\n(" + node.type + ")" } };
  }).concat(graph.edges.map(function (edge) {
    return { data: { id: edge.id, source: edge.source, target: edge.target, label: edge.label } };
  }));
  window.draftGraph = window.cytoscape({
    container: container,
    elements: elements,
    layout: { name: graph.nodes.length > 1 ? "circle" : "grid", padding: 30 },
    style: [
      {
        selector: "node",
        style: {
          label: "data(label)",
          "text-wrap": "wrap",
          "text-max-width": "160px",
          "font-size": "11px",
          "background-color": "#0b4f8a",
          "text-valign": "bottom",
        },
      },
      {
        selector: "edge",
        style: {
          label: "data(label)",
          "font-size": "10px",
          "curve-style": "bezier",
          "target-arrow-shape": "triangle",
          "line-color": "#98a2b3",
          "target-arrow-color": "#98a2b3",
        },
      },
    ],
  });
})();
