"""``python -m api``: serve the dispatch API under uvicorn (see ``api.serve``)."""

from api.serve import main

if __name__ == "__main__":
    raise SystemExit(main())
