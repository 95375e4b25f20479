package dev.quiesce.agent.core.reflect;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import org.junit.jupiter.api.Test;

class ReflectTest {
  public static class Base {
    private final String secret = "base-secret";

    private String hidden() {
      return "hidden";
    }

    public String hello(String who) {
      return "hello " + who;
    }

    public int add(int a, int b) {
      return a + b;
    }

    public void fail() throws IOException {
      throw new IOException("boom");
    }

    public static String make(Object o) {
      return "made " + o;
    }
  }

  public static class Derived extends Base {
    @SuppressWarnings("unused")
    private static final String CONSTANT = "c";
  }

  /** A public method of a non-public class: callable only after setAccessible. */
  static class Hidden {
    public String name() {
      return "hidden-class";
    }
  }

  @Test
  void callMatchesPublicMethodsByArguments() throws Exception {
    assertEquals("hello you", Reflect.call(new Derived(), "hello", "you"));
    assertEquals(5, Reflect.call(new Derived(), "add", 2, 3));
    assertEquals("hidden-class", Reflect.call(new Hidden(), "name"));
    assertThrows(NoSuchMethodException.class, () -> Reflect.call(new Derived(), "hello", 42));
    assertThrows(NoSuchMethodException.class, () -> Reflect.call(new Derived(), "add", null, 1));
    assertThrows(NoSuchMethodException.class, () -> Reflect.call(new Derived(), "hidden"));
  }

  @Test
  void callStaticFindsOnlyStaticMethods() throws Exception {
    assertEquals("made 1", Reflect.callStatic(Base.class, "make", 1));
    assertThrows(NoSuchMethodException.class, () -> Reflect.callStatic(Base.class, "hello", "x"));
  }

  @Test
  void callDeclaredWalksSuperclassesWhateverTheAccess() throws Exception {
    assertEquals("hidden", Reflect.callDeclared(new Derived(), "hidden"));
    assertThrows(NoSuchMethodException.class, () -> Reflect.callDeclared(new Derived(), "absent"));
  }

  @Test
  void frameworkExceptionsComeOutUnwrapped() {
    IOException e = assertThrows(IOException.class, () -> Reflect.call(new Base(), "fail"));
    assertEquals("boom", e.getMessage());
    assertThrows(IOException.class, () -> Reflect.callDeclared(new Derived(), "fail"));
  }

  @Test
  void fieldsUpTheHierarchy() throws Exception {
    assertEquals("base-secret", Reflect.fieldValue(new Derived(), "secret"));
    assertNull(Reflect.fieldValue(new Derived(), "absent"));
    assertNull(Reflect.field(Derived.class, "absent"));
    assertEquals("c", Reflect.staticField(Derived.class, "CONSTANT"));
  }

  @Test
  void classesByName() {
    assertSame(String.class, Reflect.load(getClass().getClassLoader(), "java.lang.String"));
    assertNull(Reflect.load(getClass().getClassLoader(), "no.such.Type"));
    assertTrue(Reflect.isA(Derived.class, Base.class.getName()));
    assertFalse(Reflect.isA(Base.class, Derived.class.getName()));
    assertSame(Base.class, Reflect.superclassNamed(Derived.class, Base.class.getName()));
  }

  @Test
  void describeNamesTheCause() {
    Exception cause = new IllegalStateException("gone");
    assertEquals("x_failed: java.lang.IllegalStateException: gone",
        Reflect.describe("x_failed", new InvocationTargetException(cause)));
    assertEquals("x_failed: java.lang.IllegalStateException", Reflect.describe("x_failed", new IllegalStateException()));
    assertEquals("x_failed: IllegalStateException: gone", Reflect.describeBrief("x_failed", cause));
    assertEquals("x_failed: java.lang.IllegalStateException", Reflect.describeBrief("x_failed", new IllegalStateException("")));
  }
}
