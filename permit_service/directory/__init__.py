"""Who and where: regions, chemical parks, enterprises, their plant areas and people."""
