package dev.quiesce.agent.core.traffic;

/** A refusal with a stable code the daemon maps to its own errors (no_framework, unsupported_version). */
public final class TrafficException extends Exception {
  private static final long serialVersionUID = 1L;
  private final String code;

  public TrafficException(String code, String message) {
    super(message);
    this.code = code;
  }

  public String code() {
    return code;
  }
}
