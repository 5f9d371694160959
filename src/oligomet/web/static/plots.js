// Interactive curves (hover values) drawn with the Plotly script the app serves itself (/vendor/plotly.min.js).
// Each <div class="plot" data-src="..."> names a JSON endpoint of the app; the inline SVG inside the div
// stays when script or Plotly is off. No inline script anywhere: the page's CSP forbids it.
(function () {
  const PALETTE = ["#1b4d6b", "#d1495b", "#00798c", "#edae49", "#66a182", "#8d96a3"];
  const rgba = (hex, a) => {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  };
  const pct = (v) => (v === null || v === undefined ? "NA" : (100 * v).toFixed(0) + "%");

  function survivalTraces(data) {
    const traces = [];
    data.series.forEach((s, i) => {
      const colour = PALETTE[i % PALETTE.length];
      if (s.lower && s.upper) {
        traces.push({x: s.time, y: s.lower, mode: "lines", line: {width: 0, shape: "hv"}, hoverinfo: "skip",
                     showlegend: false, legendgroup: s.name});
        traces.push({x: s.time, y: s.upper, mode: "lines", line: {width: 0, shape: "hv"}, hoverinfo: "skip",
                     fill: "tonexty", fillcolor: rgba(colour, 0.15), showlegend: false, legendgroup: s.name});
      }
      const text = s.time.map((t, j) => {
        let out = `${s.name}: ${pct(s.survival[j])}`;
        if (s.lower && s.upper) out += ` (95% CI ${pct(s.lower[j])}–${pct(s.upper[j])})`;
        if (s.n_risk) out += `, at risk ${s.n_risk[j] === null ? "NA" : s.n_risk[j]}`;
        return out;
      });
      traces.push({x: s.time, y: s.survival, name: s.name, mode: "lines", legendgroup: s.name,
                   line: {color: colour, width: 2, shape: "hv"}, text: text,
                   hovertemplate: "%{text}<extra></extra>"});
    });
    return traces;
  }

  function concordanceTraces(data) {
    return data.series.map((s, i) => ({
      x: s.period, y: s.share, name: s.name, mode: "lines+markers", type: "scatter",
      line: {color: s.name === "All sites" ? "#222" : PALETTE[i % PALETTE.length], width: s.name === "All sites" ? 3 : 1.2},
      // several sites' monthly lines cross too often to read: all sites shown, each site one click away
      visible: s.name === "All sites" || data.series.length <= 2 ? true : "legendonly",
      opacity: s.name === "All sites" ? 1 : 0.7,
      // the CI of all sites only: one bar per site and month would hide the lines
      error_y: s.name !== "All sites" ? {visible: false} : {type: "data", symmetric: false, thickness: 1.2,
                array: s.upper.map((u, j) => u - s.share[j]), arrayminus: s.lower.map((l, j) => s.share[j] - l)},
      text: s.period.map((p, j) => `${s.name}, ${p}: ${pct(s.share[j])} of ${s.n[j]} (95% CI ${pct(s.lower[j])}–${pct(s.upper[j])})`),
      hovertemplate: "%{text}<extra></extra>",
    }));
  }

  function draw(div, data) {
    const survival = data.kind === "survival";
    const layout = {
      title: {text: data.title, font: {size: 13}, x: 0.01, xanchor: "left"}, height: survival ? 360 : 420,
      margin: {l: 56, r: 36, t: 36, b: 40}, modebar: {orientation: "v"},
      yaxis: {range: [0, 1.02], tickformat: ".0%", title: {text: survival ? data.ytitle : "Concordant"}},
      xaxis: survival ? {title: {text: data.xtitle}, range: [0, data.xmax || null], rangemode: "tozero"}
                      : {type: "category", tickangle: -45, automargin: true},
      hovermode: "x unified", legend: {orientation: "h", y: survival ? -0.2 : -0.3, yanchor: "top"},
      font: {family: "system-ui, sans-serif", size: 12},
    };
    if (survival && !data.xmax) delete layout.xaxis.range;
    if (!data.series.length) return;
    div.replaceChildren();
    window.Plotly.newPlot(div, survival ? survivalTraces(data) : concordanceTraces(data), layout,
                          {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]});
    div.classList.add("drawn");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!window.Plotly) return;
    const loaded = {};   // one request per endpoint, however many plots read it
    document.querySelectorAll("div.plot[data-src]").forEach((div) => {
      const src = div.dataset.src;
      loaded[src] = loaded[src] || fetch(src, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)));
      loaded[src]
        .then((data) => draw(div, div.dataset.key ? data[div.dataset.key] : data))
        .catch(() => div.classList.add("plot-failed"));
    });
  });
})();
