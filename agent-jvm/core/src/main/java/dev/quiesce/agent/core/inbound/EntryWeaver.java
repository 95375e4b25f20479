package dev.quiesce.agent.core.inbound;

import java.util.List;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * Wraps entry methods in enter / exit calls, changing method bodies only (retransformation allows
 * nothing else):
 *
 * <pre>
 *   InboundCounters.enter(kind, arg, arg);
 *   try { original body, with exit(kind) before every return }
 *     (a Mono-returning entry: return (Mono) handOffMono(result, kind) before that exit;
 *      a servlet: handOffAsync(request, kind) before that exit)
 *   catch (Throwable t) { InboundCounters.exit(kind); throw t; }   // last in the exception table
 * </pre>
 *
 * No frame is computed, so no application class is ever loaded or looked up: the original frames
 * are kept (read expanded) and the one new frame, at the handler, holds no locals and a Throwable.
 * The handler uses only constants, so "no locals" is always a valid frame there.
 */
final class EntryWeaver {
  static final String COUNTERS = "dev/quiesce/agent/bootstrap/inbound/InboundCounters";

  private EntryWeaver() {}

  /** The woven class, or null when nothing matched or it is already woven (by an earlier agent). */
  static byte[] weave(byte[] original, final List<EntryPoint> entries, final List<String> woven) {
    ClassReader reader = new ClassReader(original);
    if (isWoven(reader)) {
      return null;
    }
    ClassWriter writer = new ClassWriter(reader, ClassWriter.COMPUTE_MAXS);
    final int[] count = {0};
    reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
      private int version;

      @Override
      public void visit(int version, int access, String name, String signature, String superName, String[] interfaces) {
        this.version = version & 0xFFFF;
        super.visit(version, access, name, signature, superName, interfaces);
      }

      @Override
      public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
        MethodVisitor mv = super.visitMethod(access, name, descriptor, signature, exceptions);
        if ((access & (Opcodes.ACC_ABSTRACT | Opcodes.ACC_NATIVE)) != 0 || mv == null) {
          return mv;
        }
        for (EntryPoint e : entries) {
          if (e.matches(name, descriptor)) {
            count[0]++;
            woven.add(e.name);
            return new Advice(mv, e, version >= Opcodes.V1_6, returnType(descriptor));
          }
        }
        return mv;
      }
    }, ClassReader.EXPAND_FRAMES);
    return count[0] == 0 ? null : writer.toByteArray();
  }

  /**
   * True if some method calls InboundCounters. Not the constant pool: from JDK 20 (JDK-7124710) a
   * retransformation after ours starts from bytes reconstituted from the running class, whose
   * constant pool keeps the entries of every earlier version (RedefineClasses merges them).
   */
  static boolean isWoven(ClassReader reader) {
    final boolean[] found = {false};
    reader.accept(new ClassVisitor(Opcodes.ASM9) {
      @Override
      public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
        return found[0] ? null : new MethodVisitor(Opcodes.ASM9) {
          @Override
          public void visitMethodInsn(int opcode, String owner, String mname, String mdesc, boolean itf) {
            if (COUNTERS.equals(owner)) {
              found[0] = true;
            }
          }
        };
      }
    }, ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
    return found[0];
  }

  /** The internal name of an object return type, or null (primitive, void, array). */
  static String returnType(String descriptor) {
    String r = descriptor.substring(descriptor.indexOf(')') + 1);
    return r.startsWith("L") && r.endsWith(";") ? r.substring(1, r.length() - 1) : null;
  }

  private static final class Advice extends MethodVisitor {
    private final EntryPoint entry;
    private final boolean frames;
    private final String returnType;
    private final Label start = new Label();

    Advice(MethodVisitor mv, EntryPoint entry, boolean frames, String returnType) {
      super(Opcodes.ASM9, mv);
      this.entry = entry;
      this.frames = frames;
      this.returnType = returnType;
    }

    @Override
    public void visitCode() {
      super.visitCode();
      kind();
      arg(entry.argA);
      arg(entry.argB);
      super.visitMethodInsn(Opcodes.INVOKESTATIC, COUNTERS, "enter", "(ILjava/lang/Object;Ljava/lang/Object;)V", false);
      super.visitLabel(start);
    }

    @Override
    public void visitInsn(int opcode) {
      if (opcode == Opcodes.ARETURN && entry.handOffMono && returnType != null) {
        // The cast names the method's own return type: already loaded, since it is being returned.
        kind();
        super.visitMethodInsn(Opcodes.INVOKESTATIC, COUNTERS, "handOffMono", "(Ljava/lang/Object;I)Ljava/lang/Object;", false);
        super.visitTypeInsn(Opcodes.CHECKCAST, returnType);
      }
      if (opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN && entry.handOffAsync && entry.argA >= 0) {
        // The request parameter's slot: javac never stores into a parameter of service().
        super.visitVarInsn(Opcodes.ALOAD, entry.argA);
        kind();
        super.visitMethodInsn(Opcodes.INVOKESTATIC, COUNTERS, "handOffAsync", "(Ljava/lang/Object;I)V", false);
      }
      if (opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN) {
        exit();
      }
      super.visitInsn(opcode);
    }

    @Override
    public void visitMethodInsn(int opcode, String owner, String name, String descriptor, boolean isInterface) {
      super.visitMethodInsn(opcode, owner, name, descriptor, isInterface);
      if (entry.handOffReply && "reply".equals(name) && descriptor.endsWith(")Ljava/util/concurrent/CompletableFuture;")) {
        super.visitInsn(Opcodes.DUP);
        kind();
        super.visitMethodInsn(Opcodes.INVOKESTATIC, COUNTERS, "handOff", "(Ljava/lang/Object;I)V", false);
      }
    }

    @Override
    public void visitMaxs(int maxStack, int maxLocals) {
      Label end = new Label();
      Label handler = new Label();
      super.visitLabel(end);
      super.visitTryCatchBlock(start, end, handler, null);
      super.visitLabel(handler);
      if (frames) {
        super.visitFrame(Opcodes.F_NEW, 0, new Object[0], 1, new Object[] {"java/lang/Throwable"});
      }
      exit();
      super.visitInsn(Opcodes.ATHROW);
      super.visitMaxs(maxStack, maxLocals);
    }

    private void kind() {
      super.visitInsn(Opcodes.ICONST_0 + entry.kind);
    }

    private void arg(int slot) {
      if (slot < 0) {
        super.visitInsn(Opcodes.ACONST_NULL);
      } else {
        super.visitVarInsn(Opcodes.ALOAD, slot);
      }
    }

    private void exit() {
      kind();
      super.visitMethodInsn(Opcodes.INVOKESTATIC, COUNTERS, "exit", "(I)V", false);
    }
  }
}
