"""Installation of scmaster3: the Spread-compatible bus, the SeisComP3 mediator and its dbplugin."""

from setuptools import find_packages, setup

setup(
    name="scmaster3",
    version="0.1.0",
    description=(
        "Wire-compatible replacement for the SeisComP3 messaging stack: "
        "a Spread 4 bus daemon, the scmaster mediator and its database plugin"
    ),
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    python_requires=">=3.11",
    packages=find_packages(include=["spreadbus", "spreadbus.*", "scmaster3", "scmaster3.*", "dbplugin", "dbplugin.*"]),
    package_data={"scmaster3": ["datamodel/*.json", "etc/*.cfg"], "dbplugin": ["*.sql"]},
    install_requires=[
        "SQLAlchemy>=2.0",
        "PyMySQL>=1.1",
        "psycopg2-binary>=2.9",
        "lxml>=5.0",
    ],
    extras_require={
        "test": ["pytest>=8", "hypothesis>=6.100", "ruff>=0.6"],
    },
    entry_points={
        "console_scripts": [
            "spreadbusd = spreadbus.daemon:main",
            "scmaster3 = scmaster3.cli:main",
            "scadmin3 = scmaster3.tools.scadmin:main",
            "scsend3 = scmaster3.tools.scsend:main",
            "scdump3 = scmaster3.tools.scdump:main",
            "sccnv3 = scmaster3.tools.sccnv:main",
            "scdbinit3 = dbplugin.cli:main",
        ],
    },
)
