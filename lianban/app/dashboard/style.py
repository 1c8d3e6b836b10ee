"""The dashboard's stylesheet (served as ``dashboard.css``): system fonts only, colours for good / warn / bad."""

from __future__ import annotations

CSS = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;
 margin:0;background:#f5f6f8;color:#1d2129;line-height:1.5;font-size:14px}
main{max-width:80rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.25rem 0}
h2{font-size:1.1rem;margin:0 0 .5rem}
section{background:#fff;border-radius:.5rem;padding:1rem;margin:1rem 0}
.note{color:#4e5969;margin:.25rem 0 .5rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.75rem;margin:1rem 0}
.card{background:#fff;border-radius:.5rem;padding:.75rem;display:grid;border-top:4px solid #1658c9}
.card.alarm{border-top-color:#c62828}
.card .figure{font-size:1.8rem;font-weight:700}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(30rem,1fr));gap:1rem}
figure{margin:0}
.counts{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.25rem 1.5rem;margin:0}
.counts div{display:flex;justify-content:space-between;border-bottom:1px dashed #e5e6eb;padding:.2rem 0}
.counts dd{margin:0;font-weight:600}
.scroll{max-height:26rem;overflow:auto}
figcaption{font-weight:600;margin-bottom:.25rem}
table{width:100%;border-collapse:collapse}
th,td{padding:.4rem .5rem;border-bottom:1px solid #e5e6eb;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600}
.empty{color:#6b7280}
.good{color:#00864e;font-weight:600}.bad{color:#c62828;font-weight:600}
.run.success{color:#00864e}.run.failed{color:#c62828}.run.running,.run.queued{color:#1658c9}
svg.chart{max-width:100%;height:auto;font-size:12px}
svg text{fill:#1d2129}
.bar.neutral{fill:#1658c9}.bar.good{fill:#00a86b}.bar.warn{fill:#e08a00}.bar.bad{fill:#d93025}
.line{fill:none;stroke:#1658c9;stroke-width:2}
circle{fill:#1658c9}
.axis{stroke:#c9cdd4}
"""
