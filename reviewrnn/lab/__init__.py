"""The long-dependency lab: measurements of where and why a recurrent classifier forgets.

Each module does one job on top of the core (corpus, model, training, evaluation); none prints.
"""
