// The shapes of api.md's v1 contract, as the page reads them. Kept apart from
// domain/schemas.ts on purpose: the page is a client of the HTTP contract
// only, and must not bundle server code.

export type Role = 'OWNER' | 'ADMIN' | 'MEMBER';
export type UserStatus = 'ACTIVE' | 'SUSPENDED' | 'PENDING_DELETION';
export type Visibility = 'PRIVATE' | 'SHARED' | 'PUBLIC';
export type DeletionStatus = 'IN_PROGRESS' | 'COMPLETED' | 'CANCELLED' | 'FAILED';
export type Step = 'LEADS' | 'AUTOMATIONS' | 'INTEGRATIONS' | 'LABELS' | 'CONFIRM' | 'DONE';

export interface User {
  id: string;
  name: string;
  email: string;
  role: Role;
  status: UserStatus;
}

export interface DistributionMember {
  userId: string;
  weight: number;
}
export type Distribution = DistributionMember[];

export interface RoutingItem {
  id: string;
  name: string;
  current: Distribution;
  suggested: Distribution | null;
  requiresReplacement: boolean;
  applied: Distribution | null;
}

export interface LabelItem {
  id: string;
  name: string;
  visibility: Visibility;
  replacementUserId: string | null;
  applied: boolean;
}

export interface Deletion {
  id: string;
  workflowId: string;
  status: DeletionStatus;
  step: Step;
  user: { id: string; name: string; email: string };
  source: 'ADMIN' | 'HR';
  reason: string | null;
  startedAt: string;
  updatedAt: string;
  leads: {
    total: number;
    moved: number;
    swept: number;
    state: 'PENDING' | 'MOVING' | 'DONE';
    distribution: Distribution | null;
  };
  automations: RoutingItem[];
  integrations: RoutingItem[];
  labels: LabelItem[];
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: { type: 'USER' | 'HR' | 'SYSTEM'; id: string };
  action: string;
  detail: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

export type LeadsStepBody = { targetUserId: string } | { distribution: Distribution };
