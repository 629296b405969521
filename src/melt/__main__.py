from melt.cli.main import run

run()
