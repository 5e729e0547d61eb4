"""The web console, served by the edge under ``/_console/`` (``docs/console.md``).

Plain HTML, CSS and ES modules shipped as package data (``static/``), no build step;
the JSON it reads comes from the platform's own components, in process.
"""
