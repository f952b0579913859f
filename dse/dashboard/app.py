"""The Pareto dashboard: a read-only Dash app over the study database.

Pages (client-side routing with ``dcc.Location``):

* ``/`` (``?study=NAME`` selects a study): the list of studies, the Pareto front in 2D
  (axes chosen from the stored metrics) and 3D, with feasible Pareto, dominated and
  infeasible designs told apart; the runtime selection table as a heatmap and the
  simulation timeline. A ``dcc.Interval`` re-reads the database while a study runs.
  Clicking a point opens its design page.
* ``/design/<id>``: per-layer cycles and resources, the stage breakdown, the exit-profile
  curves and the folding table of one design.

Safety: the database is opened with ``Store(url, read_only=True)``, a SQLite file in SQLite's
``mode=ro``, ``immutable`` where no writer is at work (nothing is created beside it);
no callback writes anything; the only request inputs used are a study name and a design
id, both looked up in the database (nothing else is read from a request); Dash components
escape text, and no component renders raw HTML. Dash's assets are served from the
installed package (``serve_locally=True``, no CDN), and the app binds to 127.0.0.1 unless
told otherwise.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode

import dash
from dash import Input, Output, State, dcc, html
from dash.development.base_component import Component

from dse.dashboard import figures as F
from dse.errors import DseError

#: Default refresh period of the study page while a study runs.
REFRESH_S = 5.0
_DESIGN_PATH = re.compile(r"^/design/(\d{1,12})/?$")
_CELL = {"border": "1px solid #ddd", "padding": "2px 8px", "textAlign": "left"}


def _table(rows: list[dict[str, Any]]) -> html.Table:
    """A table with one column per key; cells are text (escaped by Dash) or components."""
    cols = F.columns(rows)

    def cell(value: Any) -> Any:
        return value if isinstance(value, Component) else str(value)

    head = html.Tr([html.Th(c, style=_CELL) for c in cols])
    body = [html.Tr([html.Td(cell(r.get(c, "")), style=_CELL) for c in cols]) for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], style={"borderCollapse": "collapse"})


def _study_link(name: str) -> dcc.Link:
    return dcc.Link(name, href="/?" + urlencode({"study": name}))


def _graph(graph_id: str, fig: Any = None) -> dcc.Graph:
    return dcc.Graph(
        id=graph_id,
        figure=fig if fig is not None else {},
        config={"displaylogo": False},
    )


def read_only_url(storage: str | None) -> str:
    """The storage URL of an existing database (the dashboard's Store opens it read-only,
    a SQLite file in SQLite's read-only mode: :func:`dse.storage.engine.sqlite_read_only_uri`).

    Raises:
        DseError: the SQLite file does not exist.
    """
    from dse.storage import normalise_url
    from dse.storage.engine import check_reachable, redact, sqlite_path

    url = normalise_url(storage)
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise DseError(
            f"storage: {redact(url)} does not exist; run a study first (`adapex run`) or pass "
            "--storage with an existing database"
        )
    check_reachable(url, must_exist=True)  # a file that is not a database: one line
    return url


class Dashboard:
    """The dashboard's state: one read-only Store and the Dash app built on it.

    Args:
        storage: The storage URL (``sqlite:///studies.db`` by default).
        refresh_s: Period of the study page's refresh.

    Raises:
        DseError: the database cannot be opened (it must exist).
    """

    def __init__(self, storage: str | None = None, *, refresh_s: float = REFRESH_S) -> None:
        from dse.storage import Store

        self.store = Store(read_only_url(storage), read_only=True)
        self.refresh_ms = int(refresh_s * 1000)
        self.app = self._build()

    # -- data ---------------------------------------------------------------------------------
    def study_names(self) -> list[str]:
        """Names of the studies in the database."""
        return [s.name for s in self.store.list_studies()]

    def designs(self, study: str | None) -> list[Any]:
        """The designs (DesignRecords) of a study; empty for an unknown study."""
        if not study:
            return []
        return self.store.designs(study)

    def designs_key(self, study: str | None) -> list[Any]:
        """A cheap fingerprint of a study's designs: it changes whenever a design is stored."""
        if not study:
            return []
        summary = next((s for s in self.store.list_studies() if s.name == study), None)
        if summary is None:
            return []
        history = self.store.hypervolume_history(study)
        return [summary.n_trials, summary.n_complete, summary.n_designs, len(history)]

    def runtime_data(self, study: str | None) -> tuple[Any, Any, Any, str]:
        """The stored runtime table, simulation and load sweep of a study, and a digest."""
        if not study:
            return None, None, None, ""
        from dse.study_report import stored_sweep

        table = self.store.runtime_table(study)
        sim = self.store.simulation(study)
        sweep = stored_sweep(self.store, study)
        digest = hashlib.sha256(
            json.dumps([table, sim, sweep], sort_keys=True, default=str).encode()
        ).hexdigest()
        return table, sim, sweep, digest

    # -- pages --------------------------------------------------------------------------------
    def study_page(self, study: str | None) -> html.Div:
        names = self.study_names()
        if study not in names:
            study = names[0] if names else None
        options = F.axis_options(self.designs(study)) if study else list(F.metric_labels())
        x0, y0 = F.DEFAULT_AXES_2D
        z0 = F.DEFAULT_AXES_3D[1]

        def pick(want: str, fallback: int) -> str | None:
            if want in options:
                return want
            return options[min(fallback, len(options) - 1)] if options else None

        return html.Div(
            [
                html.H2("Studies"),
                html.Div(id="studies-table"),
                html.H2("Pareto front"),
                html.Div(
                    [
                        html.Label("study "),
                        dcc.Dropdown(
                            id="study",
                            options=[{"label": n, "value": n} for n in names],
                            value=study,
                            clearable=False,
                            style={"width": "320px"},
                        ),
                        *(
                            part
                            for i, (axis, label, want) in enumerate(
                                (("x", "x ", x0), ("y", "y ", y0), ("z", "z (3D) ", z0))
                            )
                            for part in (
                                html.Label(label),
                                dcc.Dropdown(
                                    id=f"axis-{axis}",
                                    options=options,
                                    value=pick(want, i),
                                    clearable=False,
                                    style={"width": "230px"},
                                ),
                            )
                        ),
                    ],
                    style={
                        "display": "flex",
                        "gap": "8px",
                        "alignItems": "center",
                        "flexWrap": "wrap",
                    },
                ),
                html.P(
                    "Click a point to open its design page.",
                    style={"color": "#666"},
                ),
                html.Div(
                    [
                        html.Div(_graph("pareto-2d"), style={"flex": "1 1 560px"}),
                        html.Div(_graph("pareto-3d"), style={"flex": "1 1 560px"}),
                    ],
                    style={"display": "flex", "flexWrap": "wrap"},
                ),
                dcc.Store(id="seen", data={}),
                html.H2("Runtime manager"),
                _graph("runtime-table"),
                html.P(["Designs the runtime table uses: ", html.Span(id="runtime-designs")]),
                _graph("simulation"),
                _graph("sweep"),
            ]
        )

    def design_page(self, design_id: int) -> html.Div:
        try:
            design = F.design_dict(self.store.design(design_id))
        except DseError:
            return html.Div(
                [html.H2("Design not found", id="design-title"), html.P(f"no design {design_id}")]
            )
        figs = F.design_figures(design)
        facts = F.design_summary(design)
        return html.Div(
            [
                html.P(["back to ", _study_link(str(design.get("study")))]),
                html.H2(f"Design {design_id}", id="design-title"),
                html.Table(
                    html.Tbody(
                        [
                            html.Tr([html.Th(k, style=_CELL), html.Td(v, style=_CELL)])
                            for k, v in facts
                        ]
                    ),
                    id="design-facts",
                    style={"borderCollapse": "collapse"},
                ),
                _graph("design-cycles", figs["cycles"]),
                _graph("design-resources", figs["resources"]),
                _graph("design-stages", figs["stages"]),
                _graph("design-exit-profile", figs["exit_profile"]),
                _graph("design-folding", figs["folding"]),
            ],
            id="design-page",
        )

    def route(self, pathname: str | None, search: str | None) -> html.Div:
        """The page for a URL path and query string."""
        match = _DESIGN_PATH.match(pathname or "/")
        if match:
            return self.design_page(int(match.group(1)))
        studies = parse_qs((search or "").lstrip("?")).get("study")
        study = studies[0] if studies else None
        return self.study_page(study)

    # -- callbacks -----------------------------------------------------------------------------
    def studies_table(self, _n: int) -> Any:
        """The studies page's table, refreshed periodically."""
        rows = F.studies_rows(self.store.list_studies())
        for r in rows:
            r["study"] = _study_link(r["study"])
        return _table(rows) if rows else html.P("no studies in this database yet")

    def figures(
        self, _n: int, study: str | None, x: str, y: str, z: str, seen: dict[str, Any] | None
    ) -> Any:
        """Every figure of a study page; a periodic refresh redraws only what changed in the
        database (per browser tab: ``seen``)."""
        seen = dict(seen or {})
        periodic = dash.ctx.triggered_id == "refresh" and seen.get("study") == study
        key = self.designs_key(study)
        table, sim, sweep, digest = self.runtime_data(study)
        if periodic and seen.get("designs") == key:
            pareto: tuple[Any, ...] = (dash.no_update,) * 5
        else:
            pareto = self._pareto_outputs(study, x, y, z)
        if periodic and seen.get("runtime") == digest:
            runtime: tuple[Any, ...] = (dash.no_update,) * 4
        else:
            runtime = _runtime_outputs(table, sim, sweep)
        return (
            *pareto[:2],
            *runtime,
            *pareto[2:],
            {"study": study, "designs": key, "runtime": digest},
        )

    def _pareto_outputs(self, study: str | None, x: str, y: str, z: str) -> tuple[Any, ...]:
        """The 2-D and 3-D Pareto figures and the axis options."""
        designs = self.designs(study)
        options = F.axis_options(designs)
        title = str(study or "")
        fig2 = F.pareto_figure(
            designs, x, y, title=f"{title}: {F.axis_label(y)} vs {F.axis_label(x)}"
        )
        fig3 = F.pareto_figure_3d(designs, (x, y, z), title=f"{title} (3D)")
        for fig in (fig2, fig3):
            fig.update_layout(uirevision=f"{study}|{x}|{y}|{z}")
        return (fig2, fig3, options, options, options)

    # -- app ----------------------------------------------------------------------------------
    def _build(self) -> dash.Dash:
        import flask

        # no Flask static folder: the server reads nothing but the database and Dash's own
        # packaged scripts
        server = flask.Flask(__name__, static_folder=None)
        app = dash.Dash(
            __name__,
            server=server,  # type: ignore[arg-type]  # Dash takes a Flask app (its docs)
            title="adapex dashboard",
            serve_locally=True,
            suppress_callback_exceptions=True,
            update_title=None,  # type: ignore[arg-type]  # None: no "Updating..." title
            enable_mcp=False,
            websocket_callbacks=False,
            include_assets_files=False,
        )
        app.layout = _layout(self.refresh_ms)
        app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))(
            self.route
        )
        app.callback(Output("studies-table", "children"), Input("refresh", "n_intervals"))(
            self.studies_table
        )
        app.callback(
            Output("pareto-2d", "figure"),
            Output("pareto-3d", "figure"),
            Output("runtime-table", "figure"),
            Output("simulation", "figure"),
            Output("sweep", "figure"),
            Output("runtime-designs", "children"),
            Output("axis-x", "options"),
            Output("axis-y", "options"),
            Output("axis-z", "options"),
            Output("seen", "data"),
            Input("refresh", "n_intervals"),
            Input("study", "value"),
            Input("axis-x", "value"),
            Input("axis-y", "value"),
            Input("axis-z", "value"),
            State("seen", "data"),
        )(self.figures)
        app.callback(
            Output("url", "pathname"),
            Output("url", "search"),
            Input("pareto-2d", "clickData"),
            Input("pareto-3d", "clickData"),
            prevent_initial_call=True,
        )(_open_design)
        return app


def _layout(refresh_ms: int) -> html.Div:
    """The page frame: location, refresh timer, header and the routed page."""
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Interval(id="refresh", interval=refresh_ms, n_intervals=0),
            html.Div(
                [
                    html.H1("adapex", style={"margin": "0 16px 0 0", "fontSize": "1.5em"}),
                    dcc.Link("studies", href="/"),
                ],
                style={"display": "flex", "alignItems": "baseline"},
            ),
            html.Div(id="page"),
        ],
        style={"fontFamily": "system-ui, sans-serif", "margin": "12px 24px"},
    )


def _runtime_outputs(table: Any, sim: Any, sweep: Any) -> tuple[Any, ...]:
    """The runtime table heat map, the simulation and sweep figures and the design links."""
    links: list[Any] = []
    for i in F.runtime_design_ids(table):
        links += [dcc.Link(f"design {i}", href=f"/design/{i}"), " "]
    return (
        F.runtime_heatmap(table),
        F.simulation_figure(sim),
        F.sweep_figure(sweep),
        links or "none yet (run `adapex runtime table`)",
    )


def _open_design(click2: Any, click3: Any) -> Any:
    """A click on a Pareto point opens its design's page."""
    click = click2 if dash.ctx.triggered_id == "pareto-2d" else click3
    points = (click or {}).get("points") or []
    custom = points[0].get("customdata") if points else None
    if isinstance(custom, list):
        custom = custom[0] if custom else None
    if custom is None:
        return dash.no_update, dash.no_update
    return f"/design/{int(custom)}", ""


def create_app(storage: str | None = None, *, refresh_s: float = REFRESH_S) -> dash.Dash:
    """Build the read-only dashboard app over a study database.

    Args:
        storage: The storage URL (``sqlite:///studies.db`` by default).
        refresh_s: Period of the study page's refresh.

    Raises:
        DseError: the database cannot be opened.
    """
    return Dashboard(storage, refresh_s=refresh_s).app


def run_dashboard(
    storage: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    refresh_s: float = REFRESH_S,
) -> None:
    """Serve the dashboard until interrupted (localhost by default)."""
    serve(create_app(storage, refresh_s=refresh_s), host=host, port=port)


def serve(app: dash.Dash, *, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve a dashboard app until interrupted: werkzeug's threaded WSGI server on the app's
    Flask server, without Flask's development-server banner or a line per request (no
    debugger, no reloader)."""
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app.server, threaded=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
