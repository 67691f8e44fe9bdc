"""Sphinx configuration of the documentation website (``make docs`` → build/site/index.html).

The site is built from the repository root (``sphinx-build -c docs . build/site``) so that the
pages in docs/ and the notebooks in notebooks/ are one project and the links between them work
both here and on GitHub (``[...](../notebooks/01_bellman.ipynb)``).

- Markdown (MyST) with ``$…$`` / ``$$…$$`` math, rendered by MathJax 3 served from the site itself
  (no CDN: the site works offline, in a lecture hall without a network).
- The notebooks are executed at build time (MyST-NB) and shown with their figures; a notebook that
  fails fails the build.
- The API reference is generated from the docstrings, grouped as ``rlcore/__init__.py`` and
  ``lmenv/__init__.py`` group their ``__all__`` (see ``_api_page``).
- The navigation follows the course: ``NAV`` below. To add a page, add its name to a section; a
  page of docs/ that is in no section is still built and listed under "More pages", and every
  notebook of notebooks/ is listed under "Notebooks" in file order.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pathlib
import re
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT))

# ------------------------------------------------------------------------------- navigation
# (caption, [page names in docs/, in course order]). Names that do not exist yet are skipped, so a
# page can be listed here before it is written.
NAV = [
    ("Start here", ["course", "exercises", "testing", "glossary", "mistakes"]),
    ("Exact value functions", ["bandits", "mdp_and_return", "v_and_q", "bellman_equations", "dynamic_programming"]),
    ("Learning from experience", ["monte_carlo", "td_learning", "td_control", "nstep", "planning",
                                  "function_approximation", "eligibility_traces"]),
    ("Advantage, policy gradients, reward design", ["policy_gradient", "advantage_estimation", "reward_design"]),
    ("The language model as an environment", ["lmenv_model", "token_mdp", "lmenv_hf", "lm_policy_gradient", "rlhf",
                                              "ilql_and_decoding", "oracle", "scaling"]),
    ("Interactive explorers", ["explorers"]),
    ("Speed", ["performance", "benchmarks"]),
    ("API reference", ["api/rlcore", "api/lmenv"]),
    ("中文 (Chinese)", ["zh/index", "zh/course", "zh/mistakes"]),
    ("Contributing", ["contributing/index", "contributing/benchmarks", "/bench/README", "contributing/releasing"]),
]

project = "rlcore + lmenv"
author = "the rlcore and lmenv authors"
copyright = "the rlcore and lmenv authors, MIT licence"
root_doc = "docs/index"
language = "en"

extensions = [
    "myst_nb",  # MyST Markdown and notebooks (executed at build time)
    "sphinx.ext.autodoc",  # the API reference from the docstrings
    "sphinx.ext.napoleon",  # Google-style Args/Returns sections
    "sphinx.ext.mathjax",
]

# Only these files are pages; everything else of the repository (the code, .venv, build/) is not.
include_patterns = ["docs/**.md", "notebooks/*.ipynb", "bench/README.md"]
exclude_patterns = [".venv", ".git", "build", "tour-output", "**/.ipynb_checkpoints", "**/__pycache__",
                    ".hypothesis", ".pytest_cache", "*.egg-info"]
suppress_warnings = ["myst.header"]  # pages may start below h1 (sections of a page), not an error

# --------------------------------------------------------------------------------- MyST
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3  # [text](page.md#section-title) links, as on GitHub
myst_dmath_double_inline = True  # $$…$$ inside a paragraph is display math, as on GitHub

# ------------------------------------------------------------------------- notebooks (MyST-NB)
nb_execution_mode = os.environ.get("RLCORE_DOCS_EXECUTE", "force")  # "off" for a quick look at the text
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a notebook that fails fails the build
nb_execution_show_tb = True
nb_merge_streams = True
# Widgets need a running kernel: the static pages show the notebooks' figures and text instead
# (the explorers' notebook prints a static picture of every explorer next to the widget).
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "application/vnd.jupyter.widget-state+json", None)]
# Progress bars are for people at a kernel; a page shows the result. tqdm reads TQDM_DISABLE.
os.environ["TQDM_DISABLE"] = "1"
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

# ------------------------------------------------------------------------------ autodoc
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False  # Gymnasium's own step/reset docstrings are not ours
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # dataclass fields are listed once, by the "Attributes" section

# ------------------------------------------------------------------------------- HTML
html_theme = "furo"
html_title = "rlcore + lmenv"
html_static_path = ["_static"]  # docs/_static
html_favicon = "_static/favicon.svg"
html_show_sourcelink = False
html_copy_source = False

# MathJax 3, copied into the site from the sphinx-mathjax-offline package (the `docs` extra).
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {
    "tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
}
_MATHJAX_PARTS = ["tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "a11y", "sre", "ui"]


def _mathjax_source() -> pathlib.Path:
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("MathJax is missing: install the docs extra (pip install -e '.[docs]')")
    return pathlib.Path(spec.origin).parent / "static" / "mathjax"


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    source, target = _mathjax_source(), pathlib.Path(app.outdir) / "_static" / "mathjax"
    for part in _MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        elif (source / part).is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def _write_root_redirect(app, exception):
    """build/site/index.html opens the documentation's front page (docs/index.html)."""
    if exception is not None or app.builder.format != "html":
        return
    (pathlib.Path(app.outdir) / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>rlcore + lmenv</title>'
        '<meta http-equiv="refresh" content="0; url=docs/index.html"></head>'
        '<body><a href="docs/index.html">rlcore + lmenv documentation</a></body></html>\n')


# ------------------------------------------------------------------------ generated parts
def _existing(name: str) -> bool:
    """A NAV entry is a page of docs/ ("mistakes") or, with a leading "/", of the repository ("/bench/README")."""
    return (ROOT / f"{name[1:]}.md").exists() if name.startswith("/") else (DOCS / f"{name}.md").exists()


def _nav_toctrees() -> str:
    """Hidden toctrees appended to docs/index: the sidebar, in the order of NAV."""
    listed = {name for _, names in NAV for name in names}
    blocks = []
    for caption, names in NAV:
        entries = [name for name in names if _existing(name)]
        if caption.startswith("Interactive"):
            entries += [f"/notebooks/{p.stem}" for p in sorted((ROOT / "notebooks").glob("1[4-9]_*.ipynb"))]
        if entries:
            blocks.append((caption, entries))
        if caption.startswith("The language model"):  # the notebooks follow the topic pages
            notebooks = [f"/notebooks/{p.stem}" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
                         if not re.match(r"1[4-9]_", p.name)]
            blocks.append(("Notebooks", notebooks))
    unlisted = sorted(str(p.relative_to(DOCS).with_suffix("")) for p in DOCS.rglob("*.md")
                      if p.name != "index.md" or p.parent != DOCS)
    more = [name for name in unlisted if name not in listed and not name.startswith(("api/", "zh/", "contributing/"))]
    if more:
        blocks.append(("More pages", more))
    return "".join(f"\n\n```{{toctree}}\n:hidden:\n:caption: {caption}\n\n" + "\n".join(entries) + "\n```\n"
                   for caption, entries in blocks)


def _groups(package: str) -> list[tuple[str, list[str]]]:
    """The package's ``__all__`` split at its comment lines: [(comment, [names])]."""
    source = (ROOT / package / "__init__.py").read_text()
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets))
    lines = source.splitlines()[node.lineno - 1:node.end_lineno]
    groups: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        comment = re.match(r"\s*#\s*(.+)", line)
        if comment:
            groups.append((comment.group(1).strip(), []))
        groups[-1][1].extend(re.findall(r"""["']([A-Za-z_][A-Za-z0-9_]*)["']""", line.split("#")[0]))
    return [(title, names) for title, names in groups if names]


def _directive(package: str, name: str) -> str:
    module = importlib.import_module(package)
    obj = getattr(module, name)
    target = f"{package}.{name}"
    if inspect.ismodule(obj):
        return f"```{{eval-rst}}\n.. automodule:: {obj.__name__}\n   :no-members:\n```\n"
    if inspect.isclass(obj):
        return f"```{{eval-rst}}\n.. autoclass:: {target}\n   :members:\n```\n"
    if callable(obj):
        return f"```{{eval-rst}}\n.. autofunction:: {target}\n```\n"
    return f"```{{eval-rst}}\n.. autodata:: {target}\n   :annotation:\n```\n"


def _api_page(package: str) -> str:
    parts = []
    for title, names in _groups(package):
        heading = re.sub(r"^\d+\.\s*", "", title) or ("Subpackages" if package == "rlcore" else "The model and its data")
        heading = heading[0].upper() + heading[1:]
        parts.append(f"\n## {heading}\n\n" + ", ".join(f"`{n}`" for n in names) + "\n")
        parts.extend(_directive(package, name) for name in names)
    return "\n".join(parts)


API_MARKER = re.compile(r"<!--\s*api:\s*(\w+)\s*-->")


def _source_read(app, docname, source):
    if docname == "docs/index":
        source[0] += _nav_toctrees()
    match = API_MARKER.search(source[0])
    if match:
        source[0] = API_MARKER.sub(lambda m: _api_page(m.group(1)), source[0])


# Unicode formulas in docstrings (v*, T*V, lambda_, |x|) are text, not reStructuredText markup.
_RST_SPECIAL = re.compile(r"(?<![\\`:])(\*+|\|)(?!`)|(?<=[\w')\]])_(?!\w)")


def _escape_docstring(app, what, name, obj, options, lines):
    _markdown_sections(lines)
    in_literal = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">>>") or stripped.endswith("::"):
            in_literal = stripped.endswith("::")
            continue
        if in_literal and (line.startswith("    ") or not stripped):
            continue
        in_literal = False
        pieces = re.split(r"(``.*?``|`[^`]+`_?|:\w+:`[^`]+`)", line)
        lines[i] = "".join(p if j % 2 else _RST_SPECIAL.sub(lambda m: "\\" + m.group(0), p)
                           for j, p in enumerate(pieces))


def _markdown_sections(lines):
    """Gymnasium-style docstrings (``## Arguments`` then ``- item`` lines) as reStructuredText."""
    out = []
    for line in lines:
        heading = re.match(r"\s*#{2,}\s+(.+)", line)
        if heading:
            out += ["", f".. rubric:: {heading.group(1)}", ""]
            continue
        if re.match(r"\s*- ", line) and out and out[-1].strip() and not re.match(r"\s*- |\s+\S", out[-1]):
            out.append("")
        out.append(line)
    lines[:] = out


def setup(app):
    app.connect("source-read", _source_read)
    app.connect("autodoc-process-docstring", _escape_docstring, priority=400)  # before napoleon
    app.connect("build-finished", _copy_mathjax)
    app.connect("build-finished", _write_root_redirect)
