"""A real app built with a real bundler, for the next-release bench (#23).

`build(work, variant)` writes a small React + ECharts + lodash-es + date-fns app (three lazy
pages, vendor code in its own chunks, source maps on) and builds it with Vite from the npm
registry. Dependencies are pinned and installed once into `work/node_modules` (cached across
runs: `npm install` only when `package.json` changed). `variant` changes one string in one
page, as a next release usually does. Needs node (>= 20.19) and npm on PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

PACKAGE = {
    "name": "bench-viteapp",
    "private": True,
    "type": "module",
    "version": "0.0.0",
    "dependencies": {
        "vite": "7.1.12",
        "react": "19.1.1",
        "react-dom": "19.1.1",
        "echarts": "6.0.0",
        "lodash-es": "4.17.21",
        "date-fns": "4.1.0",
    },
}

CONFIG = """import { defineConfig } from "vite";
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: {
    sourcemap: true,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes("node_modules/react")) return "vendor";
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender"))
            return "charts";
          if (id.includes("node_modules/lodash-es") || id.includes("node_modules/date-fns"))
            return "utils";
        },
      },
    },
  },
});
"""

MAIN = """import { StrictMode, Suspense, lazy, useState } from "react";
import { createRoot } from "react-dom/client";
const pages = {
  dashboard: lazy(() => import("./Dashboard.jsx")),
  orders: lazy(() => import("./Orders.jsx")),
  settings: lazy(() => import("./Settings.jsx")),
};
function App() {
  const [page, setPage] = useState("dashboard");
  const Page = pages[page];
  return (
    <main>
      <nav>
        {Object.keys(pages).map((p) => <button key={p} onClick={() => setPage(p)}>{p}</button>)}
      </nav>
      <Suspense fallback={<p>Loading</p>}><Page /></Suspense>
    </main>
  );
}
createRoot(document.getElementById("root")).render(<StrictMode><App /></StrictMode>);
"""

DASHBOARD = """import { useEffect, useRef } from "react";
import * as echarts from "echarts";
import { format, subDays } from "date-fns";
import { range, sumBy } from "lodash-es";
export default function Dashboard() {
  const ref = useRef(null);
  useEffect(() => {
    const days = range(14).map((i) => subDays(new Date(2026, 0, 31), 13 - i));
    const values = days.map((d, i) => ({ day: format(d, "MMM d"), value: (i * 37) % 100 }));
    const chart = echarts.init(ref.current);
    chart.setOption({
      title: { text: "__TITLE__" },
      xAxis: { type: "category", data: values.map((v) => v.day) },
      yAxis: { type: "value" },
      series: [{ type: "line", data: values.map((v) => v.value) }],
    });
    document.title = "Total " + sumBy(values, "value");
    return () => chart.dispose();
  }, []);
  return <div ref={ref} style={{ width: 600, height: 400 }} />;
}
"""

ORDERS = """import { orderBy, groupBy } from "lodash-es";
import { formatDistance } from "date-fns";
const orders = Array.from({ length: 20 }, (_, i) => ({ id: i, total: (i * 53) % 400, at: i }));
export default function Orders() {
  const byTotal = orderBy(orders, ["total"], ["desc"]);
  const groups = groupBy(byTotal, (o) => (o.total > 200 ? "large" : "small"));
  return (
    <ul>
      {Object.entries(groups).map(([k, list]) => (
        <li key={k}>{k}: {list.length}, latest {formatDistance(0, list[0].at * 1000)}</li>
      ))}
    </ul>
  );
}
"""

SETTINGS = """import { useState } from "react";
import { debounce } from "lodash-es";
export default function Settings() {
  const [name, setName] = useState("");
  const save = debounce((v) => localStorage.setItem("name", v), 300);
  const change = (e) => { setName(e.target.value); save(e.target.value); };
  return <input value={name} onChange={change} />;
}
"""

INDEX = """<!doctype html>
<html><body><div id="root"></div><script type="module" src="/src/main.jsx"></script></body></html>
"""


def install(work: Path) -> None:
    """node_modules for PACKAGE, installed once (kept while package.json is unchanged)."""
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "package.json"
    wanted = json.dumps(PACKAGE, indent=2) + "\n"
    fresh = not manifest.exists() or manifest.read_text() != wanted
    if fresh or not (work / "node_modules" / ".bin" / "vite").exists():
        manifest.write_text(wanted)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=work, check=True)


def build(work: Path, variant: int, out: Path) -> Path:
    """Build the app (page title `Revenue v<variant>`) into `out` (a copy of `dist/assets`)."""
    work = work.resolve()
    install(work)
    src = work / "src"
    src.mkdir(exist_ok=True)
    (work / "vite.config.js").write_text(CONFIG)
    (work / "index.html").write_text(INDEX)
    (src / "main.jsx").write_text(MAIN)
    (src / "Dashboard.jsx").write_text(DASHBOARD.replace("__TITLE__", f"Revenue v{variant}"))
    (src / "Orders.jsx").write_text(ORDERS)
    (src / "Settings.jsx").write_text(SETTINGS)
    subprocess.run(
        [str(work / "node_modules" / ".bin" / "vite"), "build", "--logLevel", "warn"],
        cwd=work,
        check=True,
    )
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(work / "dist" / "assets", out)
    return out
