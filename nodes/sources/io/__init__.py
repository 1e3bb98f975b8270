"""The io source: digital inputs and outputs and analog inputs through gpiozero."""
