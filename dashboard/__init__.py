"""The planning board: a Streamlit client of the v1 API (it never opens the database).

``client`` talks to the API, ``frames``/``timeline``/``charts``/``kpis``/``diff``
turn its answers into tables and figures, ``views/`` (one file a page) only lay them out.
"""
